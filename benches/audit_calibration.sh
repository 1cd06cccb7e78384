#!/usr/bin/env bash
# The audit on Tux Paint as shipped and on data sets with planted faults, scored against the keys:
#   tux          Tux Paint as shipped (no key: every likely label error listed counts as false)
#   tux-planted  Tux Paint + 3 misfiled copies, 3 resized (75 %, JPEG), 2 exact, 2 cropped, 2 brightened
#   tux-moved    Tux Paint with 8 images moved into a random wrong class (no copy left behind)
#   fm-shirt     Fashion-MNIST "shirt" (200 images) dealt at random into 4 folders + 3 resized,
#                3 exact, 2 cropped, 2 brightened copies (homogeneous; the folders mean nothing)
#   tiles        64×64 tiles of scikit-image's brick, grass and gravel photos (3 × 64, none a copy)
#                + 2 misfiled, 3 resized, 3 exact, 2 cropped, 2 brightened copies (homogeneous classes)
# Needs: just fetch-tuxpaint, just fetch-fashion-mnist --out data/fm-2000 --per-class 200,
# just vgg16-conv (and the release binary). Writes work/audit-<set>/ and benches/audit_<set>.json.
#   benches/audit_calibration.sh [BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/pipeline}
py=.venv/bin/python
export ORT_DYLIB_PATH=${ORT_DYLIB_PATH:-$PWD/.ort/cpu/libonnxruntime.so}
test -d work/calib-photos || $py scripts/sample_photos.py --calibration work/calib-photos
$py scripts/plant_faults.py data/tuxpaint data/tux-planted --wrong 3 --resized 3 --exact 2 --cropped 2 --brightened 2 > data/tux-planted.key.jsonl
$py scripts/plant_faults.py data/tuxpaint data/tux-moved --wrong 0 --moved 8 --resized 0 --seed 2 > data/tux-moved.key.jsonl
: > data/tux.key.jsonl
$py scripts/plant_faults.py data/fm-2000 data/fm-shirt --one-class shirt --folders 4 --wrong 0 --resized 3 --exact 3 --cropped 2 --brightened 2 > data/fm-shirt.key.jsonl
rm -rf data/tiles-raw
$py scripts/texture_tiles.py data/tiles-raw work/calib-photos/{brick,grass,gravel}.png
$py scripts/plant_faults.py data/tiles-raw data/tiles --wrong 2 --resized 3 --exact 3 --cropped 2 --brightened 2 > data/tiles.key.jsonl
for set in tux tux-planted tux-moved fm-shirt tiles; do
  src=$set; [ $set = tux ] && src=tuxpaint
  "$bin" run --data data/$src --workdir work/audit-$set --device cpu > work/audit-$set.log 2>&1
  grep '^audit ' work/audit-$set.log
  $py scripts/audit_score.py work/audit-$set/audit.json data/$set.key.jsonl | tee benches/audit_$set.json
done
