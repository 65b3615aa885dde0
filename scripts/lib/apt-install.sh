#!/usr/bin/env bash
# Sourced by the install-*.sh scripts: `apt_install <who> <debian package>` installs one Debian
# package non-interactively, as root or through sudo, without letting the package start its own
# service (policy-rc.d answers 101 while apt runs; removed afterwards when this created it).
# The caller decides beforehand whether the package is needed, and checks the result afterwards.

apt_install() {
  local who="$1" package="$2" sudo=""
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "$who: $package is missing and apt-get is not available; install it yourself" >&2
    return 1
  fi
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      echo "$who: need root (or sudo) to apt-get install $package" >&2
      return 1
    fi
  fi
  # APT_POLICY_RC_D: tests point it elsewhere.
  local policy="${APT_POLICY_RC_D:-/usr/sbin/policy-rc.d}" created=0 rc=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod +x "$policy"
    created=1
  fi
  echo "$who: installing Debian $package (apt-get)" >&2
  {
    DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq >/dev/null &&
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$package" >/dev/null
  } || rc=$?
  if [ "$created" = 1 ]; then $sudo rm -f "$policy"; fi
  return "$rc"
}
