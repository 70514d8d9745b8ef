// Who does this AWS SDK for JavaScript say we are? Default credential chain, STS
// GetCallerIdentity at $WHOAMI_STS_ENDPOINT (us-east-1). Prints one JSON line
// {"arn": ...} or {"error": ...}; exits 0 either way; gives up after 20 s.
'use strict';
const started = Date.now();
let done = false;
function finish(obj) {
  if (done) return;
  done = true;
  obj.seconds = Math.round((Date.now() - started) / 10) / 100;
  process.stdout.write(JSON.stringify(obj) + '\n');
  process.exit(0);
}
function short(err) {
  const text = ((err && (err.code || err.name)) ? (err.code || err.name) + ': ' : '') + ((err && err.message) || String(err));
  return text.replace(/\s+/g, ' ').slice(0, 300);
}
setTimeout(() => finish({ error: 'timeout: no answer in 20 s' }), 20000);
process.on('uncaughtException', (err) => finish({ error: short(err) }));
process.on('unhandledRejection', (err) => finish({ error: short(err) }));
const endpoint = process.env.WHOAMI_STS_ENDPOINT;
const flavour = process.argv[2] || 'v2';
if (flavour === 'v3') {
  const { STSClient, GetCallerIdentityCommand } = require('@aws-sdk/client-sts');
  const client = new STSClient({ region: 'us-east-1', endpoint, maxAttempts: 1 });
  client.send(new GetCallerIdentityCommand({})).then(
    (out) => finish({ arn: out.Arn }),
    (err) => finish({ error: short(err) }),
  );
} else {
  const AWS = require('aws-sdk');
  AWS.config.update({ region: 'us-east-1' });
  const sts = new AWS.STS({ endpoint, maxRetries: 0 });
  sts.getCallerIdentity({}, (err, out) => (err ? finish({ error: short(err) }) : finish({ arn: out.Arn })));
}
