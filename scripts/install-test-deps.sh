#!/usr/bin/env bash
# Installs what the test suite needs when it is missing: redis-server (the
# queue's tests start their own on a free port), swaks (a real SMTP client
# for the e-mail channel's tests, with Net::SSLeay for its --tls), Chromium (the
# desk's browser tests), CJK fonts, and the real SIP peers of the voice tests:
# sipp (Debian package sip-tester) and baresip; espeak-ng and sox (speech for
# the hot-topic answers); and PostgreSQL's server binaries (the archive's
# tests run initdb and their own server on a free port, never one someone
# else started); Kamailio, HAProxy and redis-sentinel (the multi-node
# deployment's test under deploy/). Idempotent; Debian/Ubuntu only.
# When another apt-get or dpkg holds the lock, it waits for it (up to 5
# minutes) instead of failing.
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v swaks >/dev/null 2>&1 || need+=(swaks)
perl -MNet::SSLeay -e1 >/dev/null 2>&1 || need+=(libnet-ssleay-perl) # swaks --tls
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need+=(chromium)
compgen -G '/usr/share/fonts/*/noto/NotoSansCJK*' >/dev/null || need+=(fonts-noto-cjk)
command -v sipp >/dev/null 2>&1 || need+=(sip-tester)
# baresip-core has the binary and the modules the tests load (g711, aufile,
# aubridge, sndfile, account, menu, ctrl_tcp) without the GUI front ends.
{ command -v baresip >/dev/null 2>&1 && [ -e /usr/lib/baresip/modules/sndfile.so ]; } || need+=(baresip-core)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
# The hot-topic answers are spoken at runtime as the prompts are made
# (scripts/gen-prompts.sh): espeak-ng's Mandarin voice through sox.
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
command -v sox >/dev/null 2>&1 || need+=(sox)
# The multi-node deployment's scenario test (deploy/): Kamailio's dispatcher in
# front of the nodes' SIP, HAProxy in front of their HTTP, Redis Sentinel.
{ command -v kamailio >/dev/null 2>&1 || [ -x /usr/sbin/kamailio ]; } || need+=(kamailio)
{ command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ]; } || need+=(haproxy)
command -v redis-sentinel >/dev/null 2>&1 || need+=(redis-sentinel)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${need[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
lock=(-o DPkg::Lock::Timeout=300)
$sudo apt-get "${lock[@]}" update -q
$sudo apt-get "${lock[@]}" install -y -q --no-install-recommends "${need[@]}"
