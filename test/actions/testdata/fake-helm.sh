#!/bin/sh
# Stands in for helm in helm_test.cc (driver mechanics without a cluster):
# records its arguments, environment and the values file it was handed into
# $HOME, then behaves as $HOME/mode says (ok | fail | hang).
PATH=/usr/bin:/bin
rec="$HOME/record"
: >"$rec"
for a in "$@"; do printf 'arg:%s\n' "$a" >>"$rec"; done
env | sort | sed 's/^/env:/' >>"$rec"
prev=""
for a in "$@"; do
  if [ "$prev" = "--values" ]; then
    cp "$a" "$HOME/values-seen"
    ls -ld "$(dirname "$a")" | cut -c1-10 >"$HOME/values-dir-mode"
  fi
  case "$a" in *.tgz) cp "$a" "$HOME/chart-seen.tgz" ;; esac
  prev="$a"
done
case "$(cat "$HOME/mode" 2>/dev/null || echo ok)" in
  ok) cat "$HOME/stdout" 2>/dev/null; exit 0 ;;
  fail) cat "$HOME/stderr" >&2; exit 1 ;;
  hang) exec sleep 60 ;;
esac
