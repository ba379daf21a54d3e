"""One adapter per dataset of the four papers, each in the layout the dataset ships in."""
