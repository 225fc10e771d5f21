#!/bin/sh
# Run every integration test (tests/integration/t_*.sh) through tests/run.sh: one
# closing line "integration: N passed, N failed, N skipped". BUILD selects the build.
d=$(dirname "$0")
exec sh "$d/../run.sh" integration "" "$d"/t_*.sh
