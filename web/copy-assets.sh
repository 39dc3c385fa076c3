#!/bin/sh
# Copy the pinned GraphiQL, React and ReactDOM browser builds, and the licence of every npm
# package bundled into them, from web/node_modules into DEST (the package's static folder).
set -eu
src="$(cd "$(dirname "$0")" && pwd)/node_modules"
dest="$1"
rm -rf "$dest"
mkdir -p "$dest/licenses"
cp "$src/react/umd/react.production.min.js" \
   "$src/react-dom/umd/react-dom.production.min.js" \
   "$src/graphiql/graphiql.min.js" \
   "$src/graphiql/graphiql.min.css" \
   "$dest/"
for dir in "$src"/*/ "$src"/@*/*/; do
  [ -f "$dir/package.json" ] || continue
  name="$(basename "$(dirname "$dir")")/$(basename "$dir")"
  case "$name" in node_modules/*) name="$(basename "$dir")" ;; esac
  for licence in "$dir"LICENSE* "$dir"LICENCE* "$dir"license*; do
    [ -f "$licence" ] && cp "$licence" "$dest/licenses/$(echo "$name" | tr / _).txt" && break
  done
done
# Pinned versions, for the page's cache-busting URL and for people reading the folder.
(cd "$src" && for p in graphiql react react-dom; do
  printf '%s %s\n' "$p" "$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$p/package.json")"
done) > "$dest/VERSIONS"
