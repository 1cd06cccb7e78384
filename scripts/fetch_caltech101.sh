#!/usr/bin/env bash
# Build Caltech-101 as a raw ImageFolder tree of 100 classes, as the reference notebook used it.
#
# Needs: internet access to data.caltech.edu (CaltechDATA, the official home of the dataset),
# curl or wget, unzip, tar; ~300 MB of free space. It cannot run on machines that only reach
# package registries.
# Does: downloads caltech-101.zip (131 MB), unpacks 101_ObjectCategories.tar.gz, drops
# BACKGROUND_Google (clutter, not a class) and Faces (a duplicate of Faces_easy), and moves
# the remaining 100 class folders to OUT/<class>/*.jpg. Checks that exactly 100 classes remain.
#
# Usage: scripts/fetch_caltech101.sh [OUT (default data/caltech101)] [--force]
# Licence: see the dataset's page (Fei-Fei, Fergus, Perona 2004); do not commit the images.
set -euo pipefail

URL="${CALTECH101_URL:-https://data.caltech.edu/records/mzrjq-6wc02/files/caltech-101.zip}"
OUT="data/caltech101"
FORCE=0
for arg in "$@"; do
    case "$arg" in
        --force) FORCE=1 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) OUT="$arg" ;;
    esac
done

if [ -d "$OUT" ] && [ -n "$(ls -A "$OUT")" ]; then
    if [ "$FORCE" -ne 1 ]; then
        echo "error: $OUT exists and is not empty; pass --force to replace it" >&2
        exit 1
    fi
    rm -rf "$OUT"
fi
for tool in unzip tar; do
    command -v "$tool" >/dev/null || { echo "error: $tool is needed (apt-get install $tool)" >&2; exit 1; }
done

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

echo "downloading $URL"
if command -v curl >/dev/null; then
    curl -fL --retry 3 -o "$TMP/caltech-101.zip" "$URL"
elif command -v wget >/dev/null; then
    wget -O "$TMP/caltech-101.zip" "$URL"
else
    echo "error: curl or wget is needed" >&2
    exit 1
fi

unzip -q "$TMP/caltech-101.zip" -d "$TMP"
ARCHIVE="$(find "$TMP" -name '101_ObjectCategories.tar.gz' | head -n 1)"
if [ -z "$ARCHIVE" ]; then
    echo "error: 101_ObjectCategories.tar.gz not found in the download; the archive layout changed" >&2
    exit 1
fi
tar -xzf "$ARCHIVE" -C "$TMP"
SRC="$TMP/101_ObjectCategories"
rm -rf "$SRC/BACKGROUND_Google" "$SRC/Faces"

CLASSES="$(find "$SRC" -mindepth 1 -maxdepth 1 -type d | wc -l)"
if [ "$CLASSES" -ne 100 ]; then
    echo "error: expected 100 classes after dropping BACKGROUND_Google and Faces, found $CLASSES" >&2
    exit 1
fi
mkdir -p "$(dirname "$OUT")"
mv "$SRC" "$OUT"
IMAGES="$(find "$OUT" -type f -name '*.jpg' | wc -l)"
echo "$IMAGES images in $CLASSES classes under $OUT"
