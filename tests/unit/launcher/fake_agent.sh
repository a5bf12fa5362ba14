#!/bin/sh
# fake_agent.sh HOST COMMAND... — a launch agent for tests: runs COMMAND on
# this machine as if it were HOST (what ssh would do on a real cluster).
# FAKE_AGENT_LOG, when set, records each call.
host=$1
shift
[ -n "$FAKE_AGENT_LOG" ] && echo "$host $*" >>"$FAKE_AGENT_LOG"
# exec keeps the pid: tests use it to kill one host's proxy
[ -n "$FAKE_AGENT_PIDDIR" ] && echo $$ >"$FAKE_AGENT_PIDDIR/$host"
exec "$@"
