#!/bin/sh
# Writes the credential files that the committed configuration includes, from the
# environment, then starts Asterisk in the foreground. Nothing secret is kept in git.
#
#   ARI_USERNAME, ARI_PASSWORD   the app's ARI user (ari_users.conf); required
#   AMI_USERNAME, AMI_PASSWORD   an AMI user for phone presence (manager_users.conf); optional
#   CDR_READER_GID               the group that may read the fallback's call records (the app's;
#                                default 10001, as in the app's image)
#   PHONE_PASSWORDS              the admin phones' SIP passwords (pjsip_auth.conf):
#                                whitespace-separated name=password pairs, the name being the
#                                phone's PJSIP endpoint, e.g. "admin101=s3cret admin102=0ther".
#                                Passwords may hold no whitespace and no ';'.
#
# The phones are the endpoints of pjsip.conf with an auth=<name>-auth line. A phone with no
# password in PHONE_PASSWORDS gets no auth section: it cannot register or call (a warning
# says so); names that pjsip.conf does not have are ignored.
set -euf   # -f: a '*' in a password is not a file pattern
conf=/etc/asterisk
: "${ARI_USERNAME:?set ARI_USERNAME}"
: "${ARI_PASSWORD:?set ARI_PASSWORD}"
umask 077
cat > "$conf/ari_users.conf" <<EOC
[${ARI_USERNAME}]
type = user
read_only = no
password = ${ARI_PASSWORD}
EOC
if [ -n "${AMI_USERNAME:-}" ] && [ -n "${AMI_PASSWORD:-}" ]; then
  cat > "$conf/manager_users.conf" <<EOC
[${AMI_USERNAME}]
secret = ${AMI_PASSWORD}
read = system,call,agent
write = system
EOC
fi
: > "$conf/pjsip_auth.conf"
for phone in $(sed -n 's/^auth=\(.*\)-auth$/\1/p' "$conf/pjsip.conf"); do
  password=""
  for entry in ${PHONE_PASSWORDS:-}; do
    if [ "${entry%%=*}" = "$phone" ]; then password=${entry#*=}; fi
  done
  case $password in
    "") echo "write-secrets.sh: no password for phone $phone in PHONE_PASSWORDS; it cannot register" >&2
        continue ;;
    *";"*) echo "write-secrets.sh: the password of phone $phone has a ';'" >&2
        exit 1 ;;
  esac
  printf '[%s-auth](phone-auth)\nusername=%s\npassword=%s\n\n' "$phone" "$phone" "$password" \
    >> "$conf/pjsip_auth.conf"
done
# The fallback's call records (cdr_custom.conf) hold callers' numbers: a folder only Asterisk and
# the app's group may read (Asterisk does not create it, and loses the records without it).
cdr=/var/log/asterisk/cdr-custom
mkdir -p "$cdr"
chgrp "${CDR_READER_GID:-10001}" "$cdr"
chmod 2750 "$cdr"
umask 027   # the records it writes: 0640, in that group
exec asterisk -f -vvv
