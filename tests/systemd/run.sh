#!/bin/sh
# Run the systemd tests that need no running systemd (tests/systemd/t_*.sh): the
# notify protocol, socket activation, the unit files. BUILD selects the build.
d=$(dirname "$0")
exec sh "$d/../run.sh" "systemd (no systemd running)" systemd/ "$d"/t_*.sh
