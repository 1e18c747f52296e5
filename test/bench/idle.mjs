// Opens N idle keep-alive connections to the gateway (each sends one request
// and keeps the socket open), then prints the gateway's RSS in KiB.
import net from 'node:net';
import fs from 'node:fs';
const [,, port, n, pid] = process.argv;
const socks = [];
for (let i = 0; i < Number(n); i++) {
  await new Promise((resolve, reject) => {
    const s = net.connect(Number(port), '127.0.0.1', () => {
      s.write('GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n');
    });
    s.once('data', () => resolve());
    s.on('error', reject);
    socks.push(s);
  });
}
await new Promise((r) => setTimeout(r, 500));
const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
const rss = /VmRSS:\s+(\d+) kB/.exec(status)[1];
console.log(`${socks.length} idle keep-alive connections: gateway RSS ${rss} KiB (${(rss / 1024).toFixed(1)} MiB)`);
for (const s of socks) s.destroy();
