#!/bin/sh
# Writes the credential files that the committed configuration includes, from the
# environment, then starts Asterisk in the foreground. Nothing secret is kept in git.
set -eu
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
exec asterisk -f -vvv
