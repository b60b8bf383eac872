# Sourced by every recipe script (run from egs2/<corpus>/<task>1/).
MAIN_ROOT=$(cd "${PWD}/../../.." && pwd)
export MAIN_ROOT

# shellcheck disable=SC1091
. "${MAIN_ROOT}/tools/activate_python.sh" || return 1 2>/dev/null || exit 1
export PATH="${MAIN_ROOT}/utils:${PATH}"
export LC_ALL=C
export PYTHONIOENCODING=UTF-8
# One thread per process: parallelism comes from --nj jobs.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
