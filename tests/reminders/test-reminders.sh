#!/bin/sh
# Expiry reminders end to end: a SoftHSM2 token activated through the EST
# test CA with a certificate valid 100 days, the agent's clock moved with
# SIGNET_FAKE_NOW (a test build: --enable-fault-injection), notifications
# received by tests/reminders/fake-notifyd on the private session bus
# (GLib's freedesktop backend), RenewalReminder signals seen by dbus-monitor,
# and the state database read with sqlite3. One reminder within 45 days, one
# within 15, each once across restarts; a certificate first seen at 10 days
# gets one; days=30 sends none at 44 days; expired gets none; "Renew now"
# runs renew-command with the token serial and the certificate's id; a
# malformed days= stops the agent naming file and key.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"

FAKE_NOTIFYD="$top_srcdir/tests/reminders/fake-notifyd"
[ -x "$SIGNETD" ] || skip_all "build agent/signetd first"
"$SIGNETD" --version 2>/dev/null | grep -q '^fault injection: yes' ||
  skip_all "signetd built without --enable-fault-injection (the fake clock); CI builds with it"
command -v dbus-monitor >/dev/null || skip_all "dbus-monitor not found (apt-get install dbus-bin)"
command -v sqlite3 >/dev/null || skip_all "sqlite3 not found (apt-get install sqlite3)"
/usr/bin/python3 -c 'import gi; gi.require_version("Gio", "2.0")' 2>/dev/null ||
  skip_all "python3-gi not found (apt-get install python3-gi gir1.2-glib-2.0)"

rig_setup
est_ca_start

# --- a certificate valid 100 days ----------------------------------------------
est_code --subject "CN=Anna Nowak,O=Example,C=PL" --validity-days 100
activate --json
check_rc "activation with a 100-day certificate" 0
tail -n 1 "$RIG/out" >"$RIG/activated.json"
ID=$(jq_ "$RIG/activated.json" 'd["certificate"]["id"]')
NOT_AFTER=$(date -u -d "$(jq_ "$RIG/activated.json" 'd["certificate"]["not_after"]')" +%s)
check "… valid about 100 days" test $((NOT_AFTER - $(date +%s))) -gt $((99 * 86400))
agent_stop

# --- the rig for reminders -------------------------------------------------------
CONF="$XDG_CONFIG_HOME/signet/signet.conf"
cp "$CONF" "$RIG/signet.conf.base"
cat >"$RIG/renew-cmd" <<EOF
#!/bin/sh
printf '%s\n' "\$*" >>"$RIG/renew.args"
EOF
chmod +x "$RIG/renew-cmd"
write_conf() {
  cp "$RIG/signet.conf.base" "$CONF"
  printf '[reminders]\nrenew-command=%s %%t --cert %%c\n' "$RIG/renew-cmd" >>"$CONF"
  [ -z "${1:-}" ] || printf '%s\n' "$1" >>"$CONF"
}
write_conf

export SIGNET_FAKE_NOW="$RIG/now" GNOTIFICATION_BACKEND=freedesktop
# clock DAYS: the agent's clock DAYS days and one hour before expiry
clock() { echo $((NOT_AFTER - $1 * 86400 - 3600)) >"$SIGNET_FAKE_NOW"; }

NOTES="$RIG/notify.log"
: >"$NOTES"
/usr/bin/python3 "$FAKE_NOTIFYD" "$NOTES" 2>>"$RIG/notifyd.log" &
NOTIFYD_PID=$!
gdbus wait --session --timeout 20 org.freedesktop.Notifications ||
  { echo "Bail out! fake-notifyd did not take its name"; exit 1; }
dbus-monitor --session "type='signal',interface='io.signet.Agent1',member='RenewalReminder'" \
  >"$RIG/signals.log" 2>&1 &
MONITOR_PID=$!
stop_helpers() {
  kill -TERM "$MONITOR_PID" "$NOTIFYD_PID" 2>/dev/null
  wait "$MONITOR_PID" "$NOTIFYD_PID" 2>/dev/null
  rig_teardown
}
trap stop_helpers EXIT

checks_done() { grep -c 'reminders: check done' "$RIG/agent.log"; }
# restart: the agent again, until its first reminder check is done.
restart() {
  agent_stop
  n=$(checks_done)
  agent_start
  i=0
  while [ "$(checks_done)" -le "$n" ] && [ $i -lt 200 ]; do
    sleep 0.1
    i=$((i + 1))
  done
  [ "$(checks_done)" -gt "$n" ] || not_ok "the agent did not finish its reminder check"
  # The notifications' D-Bus calls reach fake-notifyd after the check.
  wait_until 20 notes_caught_up || not_ok "a notification the agent sent never reached fake-notifyd"
}
# notes_caught_up: fake-notifyd has logged a call for every reminder the
# agent logged as sent (both logs only grow during the test).
notes_caught_up() {
  [ "$(grep -vc '"removed"' "$NOTES")" -ge "$(grep -c 'reminder sent: ' "$RIG/agent.log")" ]
}
# Notify calls (the freedesktop backend); gtk() the gtk backend's lines.
notes() { grep -vc '"backend": "gtk"' "$NOTES"; }
gtk_notes() { grep -c '"backend": "gtk"' "$NOTES"; }
signals() { grep -c 'member=RenewalReminder' "$RIG/signals.log"; }
db() { sqlite3 -readonly "$XDG_STATE_HOME/signet/signet.db" "$1"; }
last_note() { tail -n 1 "$NOTES" >"$RIG/note.json"; }
fresh_db() {
  rm -f "$XDG_STATE_HOME/signet/signet.db" "$XDG_STATE_HOME/signet/signet.db-wal" \
    "$XDG_STATE_HOME/signet/signet.db-shm"
}
# The database aside (with its WAL, if any) and back.
save_db() {
  mkdir -p "$RIG/saved"
  mv "$XDG_STATE_HOME"/signet/signet.db* "$RIG/saved/"
}
restore_db() {
  fresh_db
  mv "$RIG"/saved/signet.db* "$XDG_STATE_HOME/signet/"
}
invoke() {
  gdbus call --session --dest org.freedesktop.Notifications \
    --object-path /org/freedesktop/Notifications \
    --method io.signet.test.FakeNotifyd.InvokeAction "$1" "$2" >/dev/null
}
# wait_args N: until renew-command has run N times (10 s at most)
renew_runs() { [ -f "$RIG/renew.args" ] && wc -l <"$RIG/renew.args" | tr -d ' ' || echo 0; }
wait_args() {
  i=0
  while [ "$(renew_runs)" -lt "$1" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
}

# --- 44 days left: the 45-day reminder -----------------------------------------------
clock 44
restart
check_eq "44 days left: exactly one notification" 1 "$(notes)"
last_note
jcheck "… 'Certificate expires in 44 days'" "$RIG/note.json" \
  'd["summary"] == "Certificate expires in 44 days"'
jcheck "… naming the holder, the token, and renewal on the same token" "$RIG/note.json" \
  '"Anna Nowak" in d["body"] and "signet-test" in d["body"] and "same token" in d["body"]'
jcheck "… with a 'Renew now' button and a default action" "$RIG/note.json" \
  '"Renew now" in d["actions"][1::2] and "default" in d["actions"][0::2]'
jcheck "… the button is app.renew with the token serial and the id" "$RIG/note.json" \
  'd["actions"][d["actions"].index("Renew now") - 1] == "app.renew((%r, %r))" % ("'"$SERIAL"'", "'"$ID"'")'
jcheck "… normal urgency (not the last threshold)" "$RIG/note.json" 'd["hints"].get("urgency") == 1'
check_eq "… and one RenewalReminder signal" 1 "$(signals)"
check "… the signal says threshold 45, 44 days left, the id" sh -c "
  grep -A40 'member=RenewalReminder' '$RIG/signals.log' | grep -q '\"threshold\"' &&
  grep -A40 'member=RenewalReminder' '$RIG/signals.log' | grep -A1 '\"threshold\"' | grep -q 'uint32 45' &&
  grep -A40 'member=RenewalReminder' '$RIG/signals.log' | grep -A1 '\"days_left\"' | grep -q 'int32 44' &&
  grep -A40 'member=RenewalReminder' '$RIG/signals.log' | grep -q 'string \"$ID\"'"
check_eq "the database holds the 45-day reminder" "45" \
  "$(db "SELECT group_concat(threshold) FROM reminders WHERE token_serial = '$SERIAL'")"
check_eq "… and the certificate, tracked and present" "1|Anna Nowak" \
  "$(db "SELECT count(*), substr(subject, 4, 10) FROM certificates WHERE token_serial = '$SERIAL' AND key_id = '$ID' AND present = 1")"
check_eq "… and the token seen" "signet-test" \
  "$(db "SELECT label FROM tokens WHERE serial = '$SERIAL'")"

restart
check_eq "agent restarted: still one notification" 1 "$(notes)"
clock 40
restart
check_eq "… also some days later" 1 "$(notes)"

# --- the action: renew-command with the serial and the id ---------------------------
# GLib acts on ActionInvoked only for notifications the same process sent.
agent_stop
clock 16
rm -f "$RIG/renew.args"
# A fresh database: a reminder from this agent, whose action it then handles.
save_db
restart
check_eq "a fresh database at 16 days: one more notification (45)" 2 "$(notes)"
last_note
KEY=$(jq_ "$RIG/note.json" 'd["actions"][d["actions"].index("Renew now") - 1]')
invoke "$(jq_ "$RIG/note.json" 'd["id"]')" "$KEY"
wait_args 1
check_eq "'Renew now' ran renew-command with the serial and the id" "$SERIAL --cert $ID" \
  "$(cat "$RIG/renew.args" 2>/dev/null)"
check "… the agent logged it" grep -q "renew asked for certificate $ID on token $SERIAL" "$RIG/agent.log"
gdbus call --session --dest io.signet.Agent --object-path /io/signet/Agent \
  --method org.gtk.Actions.Activate renew "[<('x; rm -rf /', '$ID')>]" '{}' >/dev/null 2>&1
gdbus call --session --dest io.signet.Agent --object-path /io/signet/Agent \
  --method org.gtk.Actions.Activate renew "[<('$SERIAL', 'not-hex')>]" '{}' >/dev/null 2>&1
refused() { [ "$(grep -c "renew action refused" "$RIG/agent.log")" -ge 2 ]; }
wait_until 10 refused
check_eq "a renew action with a malformed serial or id runs nothing" 1 "$(renew_runs)"
check_eq "… and says so" 2 "$(grep -c "renew action refused" "$RIG/agent.log")"
agent_stop
restore_db

# --- 14 days left: the 15-day reminder, high priority --------------------------------
before_signals=$(signals)
clock 14
restart
check_eq "14 days left: a second notification for this database" 3 "$(notes)"
last_note
jcheck "… 'Certificate expires in 14 days'" "$RIG/note.json" \
  'd["summary"] == "Certificate expires in 14 days"'
invoke "$(jq_ "$RIG/note.json" 'd["id"]')" default
wait_args 2
check_eq "a click on it (the default action) runs renew-command too" \
  "$SERIAL --cert $ID" "$(sed -n 2p "$RIG/renew.args")"
check_eq "… one more RenewalReminder" $((before_signals + 1)) "$(signals)"
check_eq "the database holds both reminders" "15,45" \
  "$(db "SELECT group_concat(threshold) FROM (SELECT threshold FROM reminders WHERE token_serial = '$SERIAL' ORDER BY threshold)")"
run signet status "$TOKEN_LABEL" --json
jcheck "signet status: the thresholds and both reminders sent" "$RIG/out" \
  'any(c["id"] == "'"$ID"'" and c["reminder_days"] == [45, 15] and sorted(c["reminders_sent"]) == [15, 45] and c["days_left"] == 14 for c in d["certificates"])'
restart
restart
check_eq "two restarts later: still no more" 3 "$(notes)"

# --- first seen at 10 days left: one reminder, not two -------------------------------
agent_stop
fresh_db
before_signals=$(signals)
clock 10
restart
check_eq "first seen at 10 days left (fresh database): exactly one notification" 4 "$(notes)"
last_note
jcheck "… the 15-day one" "$RIG/note.json" 'd["summary"] == "Certificate expires in 10 days"'
check_eq "… one signal" $((before_signals + 1)) "$(signals)"
check_eq "… both thresholds marked sent" "15,45" \
  "$(db "SELECT group_concat(threshold) FROM (SELECT threshold FROM reminders ORDER BY threshold)")"
restart
check_eq "… and nothing more after a restart" 4 "$(notes)"

# --- GLib's gtk backend (GNOME Shell): the id, the priority, the action over D-Bus ---
# (the freedesktop backend sends HIGH and NORMAL alike, as urgency 1)
agent_stop
fresh_db
GNOTIFICATION_BACKEND=gtk
clock 44
restart
check_eq "gtk backend at 44 days: one AddNotification" 1 "$(gtk_notes)"
last_note
jcheck "… id renew-SERIAL-KEYID, app io.signet.Agent, normal priority" "$RIG/note.json" \
  'd["id"] == "renew-'"$SERIAL-$ID"'" and d["app_id"] == "io.signet.Agent" and d["notification"]["priority"] == "normal"'
jcheck "… the button and the default action: app.renew (serial, id)" "$RIG/note.json" \
  '[(b["label"], b["action"], list(b["target"])) for b in d["notification"]["buttons"]] == [("Renew now", "app.renew", ["'"$SERIAL"'", "'"$ID"'"])] and d["notification"]["default-action"] == "app.renew" and list(d["notification"]["default-action-target"]) == ["'"$SERIAL"'", "'"$ID"'"]'
clock 14
restart
check_eq "gtk backend at 14 days: a second one" 2 "$(gtk_notes)"
last_note
jcheck "… the same id (it replaces the first), high priority" "$RIG/note.json" \
  'd["id"] == "renew-'"$SERIAL-$ID"'" and d["notification"]["priority"] == "high" and d["notification"]["title"] == "Certificate expires in 14 days"'
runs=$(renew_runs)
gdbus call --session --dest io.signet.Agent --object-path /io/signet/Agent \
  --method org.freedesktop.Application.ActivateAction renew "[<('$SERIAL', '$ID')>]" '{}' >/dev/null
wait_args $((runs + 1))
check_eq "the shell's click (org.freedesktop.Application.ActivateAction) runs renew-command" \
  "$SERIAL --cert $ID" "$(tail -n 1 "$RIG/renew.args")"
GNOTIFICATION_BACKEND=freedesktop

# --- no renew-command: the window when it is installed, else the terminal -------------
# Both programs are recorders on the agent's PATH; the window is looked up
# when the action comes, so removing it between two actions is enough.
agent_stop
cp "$RIG/signet.conf.base" "$CONF"
mkdir -p "$RIG/bin"
for prog in signet-gtk x-terminal-emulator; do
  cat >"$RIG/bin/$prog" <<EOF
#!/bin/sh
printf '%s %s\n' "$prog" "\$*" >>"$RIG/launch.args"
EOF
  chmod +x "$RIG/bin/$prog"
done
launches() { if [ -f "$RIG/launch.args" ]; then wc -l <"$RIG/launch.args" | tr -d ' '; else echo 0; fi; }
wait_launches() {
  i=0
  while [ "$(launches)" -lt "$1" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
}
activate_renew() {
  gdbus call --session --dest io.signet.Agent --object-path /io/signet/Agent \
    --method org.freedesktop.Application.ActivateAction renew "[<('$SERIAL', '$ID')>]" '{}' >/dev/null
}
system_window=$(command -v signet-gtk || true)
saved_path=$PATH
PATH="$RIG/bin:$PATH"
export PATH
restart
activate_renew
wait_launches 1
check_eq "no renew-command, the window installed: 'Renew now' opens it on that certificate's renewal" \
  "signet-gtk --token $SERIAL --renew $ID" "$(sed -n 1p "$RIG/launch.args" 2>/dev/null)"
rm "$RIG/bin/signet-gtk"
activate_renew
wait_launches 2
if [ -n "$system_window" ] || [ -x /usr/local/bin/signet-gtk ] || [ -x /usr/bin/signet-gtk ]; then
  ok "# SKIP no window: a signet-gtk is installed on this machine"
else
  check_eq "… no window installed: a terminal runs signet renew" \
    "x-terminal-emulator -e signet renew $SERIAL --cert $ID" "$(sed -n 2p "$RIG/launch.args" 2>/dev/null)"
fi
agent_stop
PATH=$saved_path
export PATH
write_conf

# --- days=30: nothing at 44 days ------------------------------------------------------
agent_stop
fresh_db
write_conf "days=30"
clock 44
restart
check_eq "[reminders] days=30: no notification at 44 days" 4 "$(notes)"
check_eq "… and nothing marked" "0" "$(db "SELECT count(*) FROM reminders")"
clock 29
restart
check_eq "… one at 29 days" 5 "$(notes)"
check_eq "… marked as the 30-day one" "30" "$(db "SELECT group_concat(threshold) FROM reminders")"
run signet status "$TOKEN_LABEL" --json
jcheck "… and signet status shows days=30, sent" "$RIG/out" \
  'any(c["id"] == "'"$ID"'" and c["reminder_days"] == [30] and c["reminders_sent"] == [30] for c in d["certificates"])'
write_conf

# --- expired: no reminder, no crash ---------------------------------------------------
agent_stop
fresh_db
echo $((NOT_AFTER + 86400)) >"$SIGNET_FAKE_NOW"
restart
check_eq "an expired certificate: no notification" 5 "$(notes)"
check "… and the agent runs on" agent_alive
check_eq "… still tracked" "1" "$(db "SELECT count(*) FROM certificates WHERE key_id = '$ID'")"

# --- a malformed configuration ------------------------------------------------------
agent_stop
write_conf "days=45;fifteen"
run "$SIGNETD"
check_rc "a malformed [reminders] days= stops the agent" 1
check_err "… naming the file and the key" "signet\\.conf: days=\"45;fifteen\" in \\[reminders\\]: \"fifteen\" is not a number"
write_conf "days=15;15"
run "$SIGNETD"
check_err "… and a threshold given twice" "days=\"15;15\".*given twice"
printf '[reminders]\nrenew-command=renew %%x\n' >"$CONF"
run "$SIGNETD"
check_err "a renew-command with an unknown %-sequence is refused too" "renew-command=.*unknown \"%x\""
write_conf

tap_done
