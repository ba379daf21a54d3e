#!/usr/bin/env bash
# Starts a one-node SLURM cluster on this machine for bench's tests: munge, MariaDB and slurmdbd
# (so that sacct, and hence submitit's job states, work), slurmctld and slurmd. Works without
# systemd. Run as root. Installs the Debian packages when they are missing.
#
# Every daemon this script starts has its PID appended to $STATE/started; a daemon that is
# already running is left alone and not recorded, so stop-test-cluster.sh stops exactly what
# this script started. Safe to run twice. Prints the seconds it took.
set -euo pipefail

STATE=${BENCH_SLURM_STATE:-/run/bench-test-cluster}
MARK="# written by bench slurm/start-test-cluster.sh"
PACKAGES=(slurmctld slurmd slurm-client munge slurmdbd mariadb-server)
DB_PASSWORD=bench-test-cluster
started_at=$SECONDS

die() { echo "start-test-cluster: $*" >&2; exit 1; }
note() { echo "start-test-cluster: $*"; }

[ "$(id -u)" = 0 ] || die "must run as root (it installs packages and starts system daemons)"

install_missing() {
  local missing=() pkg
  for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  note "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
}

# write_config PATH: write stdin to PATH unless PATH exists and was not written by this script.
write_config() {
  local path=$1 text
  text=$(cat)
  if [ -e "$path" ] && ! grep -qF "$MARK" "$path"; then
    die "$path exists and was not written by this script; refusing to replace it"
  fi
  printf '%s\n%s\n' "$MARK" "$text" > "$path"
}

write_configs() {
  local host node memory
  host=$(hostname -s)
  # The node line as slurmd measures it, with 10 % of the memory held back so that the node
  # never registers with less than configured (which would drain it).
  node=$(slurmd -C | head -n 1)
  memory=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node")
  node=$(sed "s/RealMemory=[0-9]*/RealMemory=$((memory * 9 / 10))/" <<<"$node")
  mkdir -p /etc/slurm /var/log/slurm
  chown slurm:slurm /var/log/slurm
  write_config /etc/slurm/slurm.conf <<CONF
ClusterName=bench
SlurmctldHost=$host
AuthType=auth/munge
CredType=cred/munge
SlurmUser=slurm
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=2000
ReturnToService=2
$node State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  write_config /etc/slurm/slurmdbd.conf <<CONF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=slurm
LogFile=/var/log/slurm/slurmdbd.log
PidFile=/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=$DB_PASSWORD
StorageLoc=slurm_acct_db
CONF
  chown slurm:slurm /etc/slurm/slurmdbd.conf
  chmod 600 /etc/slurm/slurmdbd.conf
}

# running PIDFILE NAME: true when PIDFILE names a live process called NAME.
running() {
  local pid
  [ -s "$1" ] || return 1
  pid=$(cat "$1")
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}

# wait_for SECONDS COMMAND...: poll COMMAND every 0.25 s until it succeeds.
wait_for() {
  local tries=$(($1 * 4))
  shift
  while ! "$@" >/dev/null 2>&1; do
    tries=$((tries - 1))
    [ "$tries" -gt 0 ] || return 1
    sleep 0.25
  done
}

# start NAME PIDFILE COMMAND...: run COMMAND (a daemon that writes PIDFILE) unless NAME already runs.
start() {
  local name=$1 pidfile=$2
  shift 2
  if running "$pidfile" "$name"; then
    note "$name already running (pid $(cat "$pidfile")): left alone, not recorded"
    return 0
  fi
  rm -f "$pidfile"
  "$@"
  wait_for 15 running "$pidfile" "$name" || die "$name did not start; see its log under /var/log"
  echo "$name $(cat "$pidfile") $pidfile" >> "$STATE/started"
}

start_mariadb() {
  install -d -o mysql -g mysql /run/mysqld
  nohup /usr/sbin/mariadbd --user=mysql >/var/log/mariadbd-bench.log 2>&1 &
  echo $! > /run/mariadbd-bench.pid
}

node_idle() { sinfo -h -o %T | grep -qE '^(idle|mixed|allocated)'; }

main() {
  install_missing
  mkdir -p "$STATE"
  touch "$STATE/started"
  # forget recorded daemons that are gone (a crash, a reboot)
  local kept
  kept=$(while read -r name pid pidfile; do
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] && echo "$name $pid $pidfile"
  done < "$STATE/started" || true)
  printf '%s' "${kept:+$kept$'\n'}" > "$STATE/started"

  write_configs
  install -d -o munge -g munge -m 0755 /run/munge
  start munged /run/munge/munged.pid runuser -u munge -- /usr/sbin/munged
  if mysqladmin ping >/dev/null 2>&1 && ! running /run/mariadbd-bench.pid mariadbd; then
    note "a MariaDB server not started by this script is running: using it, not recorded"
  else
    start mariadbd /run/mariadbd-bench.pid start_mariadb
  fi
  wait_for 30 mysqladmin ping || die "MariaDB does not answer; see /var/log/mariadbd-bench.log"
  mysql -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
            CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
            GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';"
  start slurmdbd /run/slurmdbd.pid /usr/sbin/slurmdbd
  wait_for 30 sacctmgr -n list cluster || die "slurmdbd does not answer; see /var/log/slurm/slurmdbd.log"
  start slurmctld /run/slurmctld.pid /usr/sbin/slurmctld
  start slurmd /run/slurmd.pid /usr/sbin/slurmd
  wait_for 30 node_idle || die "no idle node after 30 s: $(sinfo 2>&1); see /var/log/slurm/slurmd.log"
  note "cluster up in $((SECONDS - started_at)) s: $(sinfo -h -o '%P %D %T %c CPUs %m MB' | head -n 1)"
}

main "$@"
