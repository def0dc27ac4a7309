#!/usr/bin/env bash
# Runs every chapter inside Google's Colab runtime image (the weekly workflow), in full mode
# with the data downloaded, as students meet them: the kernel is the image's own Python with
# the packages Colab preinstalls; each chapter's setup cell installs the course package (a
# wheel of this checkout) itself. The test runner (pytest, nbval) is installed into a folder
# of its own, so it changes nothing the image has. Usage, from the repository root:
#   docker run --rm -v "$PWD:/course" -w /course us-docker.pkg.dev/colab-images/public/runtime \
#       bash tests/colab/run-in-image.sh
# Arguments, if any, replace `chapters` (e.g. one notebook). COLAB_PYTHON=<interpreter> uses
# another interpreter as "the image" (to try the script outside the image).
set -euo pipefail
cd "$(dirname "$0")/../.."
colab_python=${COLAB_PYTHON:-$(command -v python3)}
echo "== The Colab image's Python and main packages"
"$colab_python" --version
"$colab_python" -m pip list 2>/dev/null | grep -iE "^(tensorflow|keras|numpy|pandas|matplotlib|ipywidgets|ipykernel|ipython|scikit-learn) " || true
runner=${RUNNER_DIR:-/tmp/dl4ss-runner}
"$colab_python" -m pip install --quiet --target "$runner" -r tests/colab/runner-requirements.txt
export PYTHONPATH="$runner"
"$colab_python" -m pytest -p notebook_runs --colab-python "$colab_python" --no-probes \
    --runs-dir _build/colab-image --nbval-cell-timeout=3600 -v "${@:-chapters}"
