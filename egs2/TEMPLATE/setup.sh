#!/usr/bin/env bash
# Scaffold a new recipe: egs2/TEMPLATE/setup.sh egs2/<corpus>/<task>1
# Links cmd.sh, path.sh and db.sh (one copy for the whole repository: set the
# job backend and corpus locations once, in egs2/TEMPLATE), utils/ and the
# shared stage scripts of egs2/TEMPLATE/*1/, and creates conf/ and local/.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "Usage: $0 <new-recipe-dir>   e.g. $0 egs2/mycorpus/asr1" >&2
    exit 1
fi
template=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
egs2=$(dirname "${template}")
dir=$1
if [ -e "${dir}" ]; then
    echo "$0: ${dir} already exists; not touching it" >&2
    exit 1
fi
mkdir -p "${dir}"
dir=$(cd "${dir}" && pwd)
if [ "$(dirname "$(dirname "${dir}")")" != "${egs2}" ]; then
    rmdir "${dir}"
    echo "$0: a recipe must be two levels below ${egs2} (egs2/<corpus>/<task>1)" >&2
    exit 1
fi

mkdir -p "${dir}/conf" "${dir}/local"
for f in cmd.sh path.sh db.sh; do
    ln -s "../../TEMPLATE/${f}" "${dir}/${f}"
done
ln -s ../../../utils "${dir}/utils"
for script in "${template}"/*1/*.sh; do
    [ -e "${script}" ] || continue
    task=$(basename "$(dirname "${script}")")
    ln -s "../../TEMPLATE/${task}/$(basename "${script}")" "${dir}/$(basename "${script}")"
done
echo "$0: created ${dir}"
