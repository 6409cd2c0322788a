# Sourced by scripts/install-deps.sh and scripts/test-services.sh: the test tools that come from
# PyPI, their pinned versions, and where they are installed (a virtual environment per tool and
# version, outside the repository, so a fresh clone on the same machine reuses it).
#
#   BERTH_TOOLS_DIR   where the environments live (default ~/.cache/berth-tools)

# Schemathesis: fuzzes the API from its OpenAPI document (Tests/BerthCLITests/APIFuzzTests.swift).
SCHEMATHESIS_VERSION=4.32.5
BERTH_TOOLS_DIR=${BERTH_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/berth-tools}
SCHEMATHESIS_VENV="$BERTH_TOOLS_DIR/schemathesis-$SCHEMATHESIS_VERSION"
SCHEMATHESIS="$SCHEMATHESIS_VENV/bin/st"
