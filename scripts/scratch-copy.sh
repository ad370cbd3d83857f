# Sourced by scripts/test-asan.sh and scripts/test-tsan.sh: a scratch copy of
# the tracked files in $work (removed on exit) with the shared node_modules,
# entered, with node's headers for node-gyp; $root is the checkout.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d)
chmod 755 "$work"  # test/helper.unprivileged.test.ts runs node from it as another user
trap 'rm -rf "$work"' EXIT
git -C "$root" ls-files -z | (cd "$root" && xargs -0 cp --parents -t "$work")
ln -s "$root/node_modules" "$work/node_modules"
# The prebuilds are built, not tracked; the package test packs them.
[ -d "$root/prebuilds" ] && cp -r "$root/prebuilds" "$work/"
cd "$work"
node_prefix=$(dirname "$(dirname "$(command -v node)")")
if [ -f "$node_prefix/include/node/node_api.h" ]; then export npm_config_nodedir="$node_prefix"; fi
