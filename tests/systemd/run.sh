#!/bin/sh
# Run the systemd tests that need no running systemd (tests/systemd/t_*.sh): the
# notify protocol, socket activation, the unit files. BUILD selects the build.
exec sh "$(dirname "$0")/../run.sh" "systemd (no systemd running)" "$(dirname "$0")" systemd/
