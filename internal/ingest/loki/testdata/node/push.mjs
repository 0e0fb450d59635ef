// Pushes logs to a Loki push endpoint with real npm clients, for the Go test
// TestNodeClients in internal/ingest/loki. Usage: node push.mjs <base URL>
// Exits non-zero when any client reports a failed push.
import { createRequire } from 'node:module'
import pino from 'pino'
import { pinoLoki } from 'pino-loki'

const require = createRequire(import.meta.url)
const winston = require('winston')
const LokiTransport = require('winston-loki')

const host = process.argv[2]
if (!host) {
  console.error('usage: node push.mjs <base URL>')
  process.exit(2)
}

let failed = false
const fail = (who) => (err) => {
  failed = true
  console.error(`${who}: ${err && err.message ? err.message : err}`)
}

// winston-loki, protobuf + snappy (the default when the snappy package loads) and JSON.
async function viaWinston (json, job) {
  const transport = new LokiTransport({
    host,
    json,
    labels: { job },
    batching: true,
    interval: 60, // sent on close, in one request
    onConnectionError: fail(`winston-loki ${job}`)
  })
  const logger = winston.createLogger({ level: 'debug', transports: [transport] })
  logger.info('hello from winston', { order: 7 })
  logger.error('winston failed to charge')
  // Let winston's stream hand the entries to the transport before closing it.
  await new Promise((resolve) => setImmediate(resolve))
  await transport.close()
}

// pino-loki in the main process: JSON, level as a label, structured metadata from `meta`.
async function viaPino () {
  const stream = pinoLoki({
    host,
    labels: { service_name: 'pino-app' },
    batching: { interval: 60 },
    silenceErrors: false
  })
  const errors = []
  const origError = console.error
  console.error = (...args) => { errors.push(args.join(' ')); origError(...args) }
  const logger = pino({ level: 'debug' }, stream)
  logger.warn({ meta: { request_id: 'r-1', attempt: 2 } }, 'pino slow call')
  logger.info('pino done')
  const closed = new Promise((resolve) => stream.on('close', resolve))
  stream.end()
  await closed
  console.error = origError
  if (errors.length > 0) fail('pino-loki')(errors.join('; '))
}

await viaWinston(false, 'winston-proto')
await viaWinston(true, 'winston-json')
await viaPino()
process.exit(failed ? 1 : 0)
