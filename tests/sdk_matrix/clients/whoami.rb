# Who does aws-sdk-core (Ruby) say we are? Default credential chain, STS GetCallerIdentity at
# $WHOAMI_STS_ENDPOINT (us-east-1). One JSON line {"arn": ...} or {"error": ...}; exit 0 either
# way; gives up after 20 s.
require 'json'
require 'timeout'
started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
out = begin
  Timeout.timeout(20) do
    require 'aws-sdk-core'
    client = Aws::STS::Client.new(region: 'us-east-1', endpoint: ENV.fetch('WHOAMI_STS_ENDPOINT'), retry_limit: 0)
    { 'arn' => client.get_caller_identity.arn }
  end
rescue Timeout::Error
  { 'error' => 'timeout: no answer in 20 s' }
rescue Exception => e # rubocop:disable Lint/RescueException - any failure is an answer
  { 'error' => "#{e.class}: #{e.message}".split.join(' ')[0, 300] }
end
out['seconds'] = (Process.clock_gettime(Process::CLOCK_MONOTONIC) - started).round(2)
$stdout.puts(JSON.generate(out))
$stdout.flush
exit!(0)
