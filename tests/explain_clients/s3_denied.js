// GetObject against $S3_ENDPOINT with the AWS SDK for JavaScript v2 (argv v2) or v3 (argv v3);
// logs the error the way applications do (console.error(err)).
'use strict';
const endpoint = process.env.S3_ENDPOINT;
const flavour = process.argv[2] || 'v2';
setTimeout(() => { console.error('timeout'); process.exit(3); }, 20000);
if (flavour === 'v3') {
  const { S3Client, GetObjectCommand } = require('@aws-sdk/client-s3');
  const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, maxAttempts: 1 });
  client.send(new GetObjectCommand({ Bucket: 'amzn-s3-demo-bucket1', Key: 'object-name' })).then(
    () => process.exit(0),
    (err) => { console.error(err); process.exit(0); },
  );
} else {
  const AWS = require('aws-sdk');
  const s3 = new AWS.S3({ region: 'us-east-1', endpoint, s3ForcePathStyle: true, maxRetries: 0 });
  s3.getObject({ Bucket: 'amzn-s3-demo-bucket1', Key: 'object-name' }, (err) => {
    if (err) console.error(err);
    process.exit(0);
  });
}
