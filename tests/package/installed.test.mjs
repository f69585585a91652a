// The package as a person installs it. `scripts/package --debug` builds it (scripts/test does);
// this test installs the .deb with apt-get, runs `precis` from the PATH (its version, and a
// summary with the smollm2 model from the person's models folder), starts the installed window
// under Xvfb with a file on its command line and waits for its summary, checks the desktop entry
// (desktop-file-validate), the icons and the file types it opens (the desktop database,
// xdg-mime), and removes the package again. The .rpm, which this Debian machine does not
// install, is read with `rpm`: the same files, the same programs, its dependencies.
//
// Needs root or sudo (apt-get), DISPLAY and a D-Bus session (xvfb-run, dbus-run-session),
// tauri-driver, desktop-file-utils, xdg-utils and rpm (scripts/lib.sh installs them).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BODY, startDriver, titleIs } from '../e2e/desktop.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const packages = join(here, '..', '..', 'target', 'package');
const ENTRY = '/usr/share/applications/Precis.desktop';
const TYPES = [
  'text/html',
  'application/xhtml+xml',
  'application/pdf',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  'text/markdown',
  'text/plain',
];

function asRoot(command, args, options = {}) {
  const [cmd, argv] = process.getuid() === 0 ? [command, args] : ['sudo', [command, ...args]];
  return execFileSync(cmd, argv, { encoding: 'utf8', ...options, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

/** Runs an installed program from the PATH, the way a person would. */
function installed(command, args, env = process.env) {
  return spawnSync(command, args, { encoding: 'utf8', env: { ...env, PATH: '/usr/local/bin:/usr/bin:/bin' } });
}

let deb;

/** A one-page PDF with a text layer: `lines` in Helvetica, one a line. */
function onePagePdf(lines) {
  const text = lines.map((l, i) => `BT /F1 11 Tf 72 ${720 - 14 * i} Td (${l}) Tj ET`).join('\n');
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${text.length} >>\nstream\n${text}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let pdf = '%PDF-1.4\n';
  const offsets = objects.map((body, i) => {
    const at = pdf.length;
    pdf += `${i + 1} 0 obj\n${body}\nendobj\n`;
    return at;
  });
  const xref = pdf.length;
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  pdf += offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('');
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return pdf;
}

before(() => {
  const debs = existsSync(packages) ? readdirSync(packages).filter((f) => /^precis_.*\.deb$/.test(f)) : [];
  assert.equal(debs.length, 1, `one .deb in ${packages} (run scripts/package --debug): ${debs}`);
  deb = debs[0];
  asRoot('apt-get', ['install', '-y', '-q', `./${deb}`], { cwd: packages, stdio: ['ignore', 'inherit', 'inherit'] });
});

after(() => {
  asRoot('apt-get', ['remove', '-y', '-q', 'precis'], { stdio: ['ignore', 'inherit', 'inherit'] });
  assert.equal(existsSync('/usr/bin/precis'), false, 'removed again');
  assert.equal(existsSync('/usr/bin/precis-app'), false, 'removed again');
});

test('the package installs the command line on the PATH, and it summarizes', () => {
  assert.equal(installed('sh', ['-c', 'command -v precis']).stdout.trim(), '/usr/bin/precis');
  const version = installed('precis', ['--version']);
  assert.equal(version.status, 0, version.stderr);
  assert.match(version.stdout, /^precis 0\.1\.0/);
  const summary = installed('precis', [
    'summarize',
    '--model',
    'smollm2-135m-instruct-q4_1',
    '--length',
    'short',
    '--no-history',
    '--format',
    'json',
    join(here, '..', 'e2e', 'fixtures', 'library-article.md'),
  ]);
  assert.equal(summary.status, 0, summary.stderr);
  const json = JSON.parse(summary.stdout);
  assert.equal(json.title, 'Village Library Opens a Tool-Lending Shelf');
  assert.ok(json.bullets.length > 0, summary.stdout);
  // PDFs are read by a copy of the installed program started as a worker under limits.
  const pdf = join(packages, 'installed.pdf');
  const sentences = BODY.split(/(?<=\.) /).slice(0, 6);
  writeFileSync(pdf, onePagePdf(sentences), 'latin1');
  const extracted = installed('precis', ['extract', '--format', 'json', pdf]);
  assert.equal(extracted.status, 0, extracted.stderr);
  assert.match(JSON.parse(extracted.stdout).text, new RegExp(sentences[0].split(' ').slice(0, 4).join(' ')));
  // No model is packaged: the catalog is compiled in, the models come from the person's folder.
  assert.equal(existsSync('/usr/share/precis'), false);
  const files = execFileSync('dpkg', ['-L', 'precis'], { encoding: 'utf8' });
  assert.doesNotMatch(files, /\.gguf/);
});

test('the desktop entry is valid, has the icons, and offers Precis for the file types it reads', () => {
  const validate = spawnSync('desktop-file-validate', [ENTRY], { encoding: 'utf8' });
  assert.equal(validate.status, 0, validate.stdout + validate.stderr);
  assert.equal(validate.stdout.trim(), '', 'no warnings');
  const entry = readFileSync(ENTRY, 'utf8');
  assert.match(entry, /^Exec=precis-app %F$/m);
  assert.match(entry, /^Icon=precis-app$/m);
  const mimeTypes = entry.match(/^MimeType=(.*)$/m)[1].split(';').filter(Boolean);
  assert.deepEqual([...mimeTypes].sort(), [...TYPES].sort());
  for (const size of ['16x16', '32x32', '48x48', '128x128', '256x256', '512x512']) {
    assert.ok(existsSync(`/usr/share/icons/hicolor/${size}/apps/precis-app.png`), `${size} icon`);
  }
  // The desktop database (updated by desktop-file-utils' trigger) lists Precis for each type:
  // what "Open with" offers.
  const cache = readFileSync('/usr/share/applications/mimeinfo.cache', 'utf8');
  for (const type of TYPES) {
    const line = cache.split('\n').find((l) => l.startsWith(`${type}=`)) ?? '';
    assert.match(line, /Precis\.desktop/, `${type} in mimeinfo.cache`);
  }
  // With no other choice made, the types only Precis opens here default to it; a person who
  // chooses Precis for PDFs gets it (in a config folder of this test's own).
  const home = join(packages, 'xdg-home');
  mkdirSync(join(home, 'config'), { recursive: true });
  const env = { ...process.env, XDG_CONFIG_HOME: join(home, 'config'), XDG_DATA_HOME: join(home, 'data') };
  const query = (type) => installed('xdg-mime', ['query', 'default', type], env).stdout.trim();
  assert.equal(query('text/markdown'), 'Precis.desktop');
  installed('xdg-mime', ['default', 'Precis.desktop', 'application/pdf'], env);
  assert.equal(query('application/pdf'), 'Precis.desktop');
});

test('the installed window starts and summarizes the file it was given', async () => {
  const desktop = await startDriver();
  try {
    const file = join(desktop.work, 'installed.md');
    writeFileSync(file, `# Opened by the Installed Window\n\n${BODY}\n`);
    const session = await desktop.open([file], '/usr/bin/precis-app');
    await session.waitFor(titleIs('Opened by the Installed Window'), 'the file in the installed window', 30_000);
    // Summarized with the small model (the settings startDriver writes), as a drop would be.
    await session.waitFor(
      "const a = document.querySelector('.summary-actions'); return a && !a.hidden",
      'the finished summary',
      300_000,
    );
    const bullets = await session.run("return [...document.querySelectorAll('#bullets li .bullet-text')].map((b) => b.textContent)");
    const tldr = await session.run("return document.getElementById('tldr').textContent");
    assert.ok(bullets.length > 0 || tldr.trim().length > 0, 'the model wrote something');
  } finally {
    await desktop.stop();
  }
});

test('the .rpm holds the same programs, desktop entry and icons, and names its dependencies', () => {
  const rpms = readdirSync(packages).filter((f) => f.endsWith('.rpm'));
  assert.equal(rpms.length, 1, `one .rpm in ${packages}: ${rpms}`);
  const rpm = join(packages, rpms[0]);
  const files = execFileSync('rpm', ['-qlp', rpm], { encoding: 'utf8' }).split('\n');
  for (const file of ['/usr/bin/precis', '/usr/bin/precis-app', ENTRY, '/usr/share/icons/hicolor/256x256/apps/precis-app.png']) {
    assert.ok(files.includes(file), `${file} in the .rpm`);
  }
  assert.ok(!files.some((f) => f.endsWith('.gguf')), 'no model in the .rpm');
  const requires = execFileSync('rpm', ['-qp', '--requires', rpm], { encoding: 'utf8' });
  assert.match(requires, /libwebkit2gtk-4\.1\.so/, 'the window needs WebKitGTK');
  // The programs are the ones the .deb holds: the command line byte for byte; the window the same
  // size (the bundler writes the package type into each copy, for Tauri's updater).
  const unpacked = join(packages, 'rpm-unpacked');
  mkdirSync(unpacked, { recursive: true });
  execFileSync('sh', ['-c', `rpm2cpio "${rpm}" | cpio -idm --quiet`], { cwd: unpacked });
  const inDeb = (program) =>
    execFileSync('sh', ['-c', `dpkg-deb --fsys-tarfile "${join(packages, deb)}" | tar -xO usr/bin/${program}`], {
      maxBuffer: 1 << 30,
    });
  const inRpm = (program) => readFileSync(join(unpacked, 'usr', 'bin', program));
  assert.ok(inRpm('precis').equals(inDeb('precis')), 'precis is the same in both packages');
  assert.equal(inRpm('precis-app').length, inDeb('precis-app').length, 'precis-app is the same size in both');
});
