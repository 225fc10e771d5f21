#!/bin/sh
# Run every integration test (tests/integration/t_*.sh) through tests/run.sh: one
# closing line "integration: N passed, N failed, N skipped". BUILD selects the build.
exec sh "$(dirname "$0")/../run.sh" integration "$(dirname "$0")"
