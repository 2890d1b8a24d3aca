#!/usr/bin/env bash
# Retakes docs/trace-busybox.png: `procjail up --trace-json` of jails/busybox.toml, opened in
# speedscope (npm; it reads Chrome trace events offline, as ui.perfetto.dev and
# chrome://tracing do online) in Debian's headless Chromium, one screenshot per track.
#   sudo docs/trace-screenshot.sh        (after cargo build --release; needs network for npm)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v chromium >/dev/null || apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core
command -v npm >/dev/null || apt-get install -y -qq --no-install-recommends npm
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
target/$(rustc -vV | sed -n "s/^host: //p")/release/procjail up --trace-json "$work/trace.json" jails/busybox.toml
(cd "$work" && npm install --silent speedscope@1.25.0 puppeteer-core@24 >/dev/null)
python3 -c '
import base64, json, sys
src = open(sys.argv[1], "rb").read()
print("speedscope.loadFileFromBase64(%s, %s)" % (json.dumps("busybox.trace.json"), json.dumps(base64.b64encode(src).decode())))
' "$work/trace.json" >"$work/profile.js"
cat >"$work/shoot.mjs" <<'JS'
import puppeteer from 'puppeteer-core';
const [,, url, out] = process.argv;
const browser = await puppeteer.launch({ executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--allow-file-access-from-files'] });
const page = await browser.newPage();
await page.setViewport({ width: 1400, height: 230 });
await page.goto(url);
await new Promise(r => setTimeout(r, 1500));
const shots = [];
for (let i = 0; i < 3; i++) {            // speedscope shows one track at a time: 'n' is the next
  shots.push(await page.screenshot({ encoding: 'base64' }));
  await page.keyboard.press('n');
  await new Promise(r => setTimeout(r, 500));
}
await page.setViewport({ width: 1400, height: 690 });
await page.setContent('<body style="margin:0">' + shots.map(s => `<img style="display:block" src="data:image/png;base64,${s}">`).join('') + '</body>');
await page.screenshot({ path: out });
await browser.close();
JS
node "$work/shoot.mjs" "file://$work/node_modules/speedscope/dist/release/index.html#localProfilePath=$work/profile.js" docs/trace-busybox.png
echo "wrote docs/trace-busybox.png"
