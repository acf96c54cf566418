# Sourced by the transcript snippets (examples/snippets/*.sh), whose .out is the terminal session a doc shows.
# Nothing reads the caller's stdin: commands see the end of input at once, as after </dev/null.
exec </dev/null
# `run 'COMMAND'` prints "$ COMMAND", then what it prints (stdout and stderr as they come); its exit status is ignored.
run() {
  printf '$ %s\n' "$1"
  eval "$1" 2>&1 || true
}
# `background PORT COMMAND...` starts a server that the session does not show and waits until PORT accepts
# connections (30 s at most); it is killed when the script ends.
background_pids=()
trap 'kill "${background_pids[@]}" 2>/dev/null' EXIT
background() {
  local port=$1
  shift
  "$@" >/dev/null 2>&1 &
  background_pids+=($!)
  for _ in $(seq 600); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "nothing listens on $port after 30 s: $*" >&2
  exit 1
}
