// Sends metrics, an event and a service check with the hot-shots DogStatsD client.
// Usage: NODE_PATH=<dir>/node_modules node hotshots_client.js PORT udp|tcp
const StatsD = require('hot-shots');

const [port, protocol] = [Number(process.argv[2]), process.argv[3]];
const client = new StatsD({
  host: '127.0.0.1',
  port,
  protocol,
  globalTags: { env: 'test' },
  errorHandler: (err) => { console.error(err); process.exitCode = 1; },
});

client.increment('hs.hits', 3, { route: '/a' });
client.increment('hs.hits', 2, { route: '/a' });
client.gauge('hs.temp', 21.5);
client.timing('hs.latency', 150);
client.histogram('hs.size', 7);
client.distribution('hs.dist', 0.3);
client.set('hs.users', 'alice');
client.set('hs.users', 'bob');
client.event('Deploy', 'v42 is out', { alert_type: 'error', hostname: 'web-1' }, { service: 'shop' });
client.check('hs.db', client.CHECKS.CRITICAL, { message: 'down' }, ['team:db']);
client.close((err) => { if (err) { console.error(err); process.exitCode = 1; } });
