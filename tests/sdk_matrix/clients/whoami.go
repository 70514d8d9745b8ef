// Who does aws-sdk-go (v1) say we are? Default credential chain (session.NewSession), STS
// GetCallerIdentity at $WHOAMI_STS_ENDPOINT (us-east-1). One JSON line {"arn": ...} or
// {"error": ...}; exit 0 either way; gives up after 20 s.
package main

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/sts"
)

var started = time.Now()

func finish(out map[string]interface{}) {
	out["seconds"] = math.Round(time.Since(started).Seconds()*100) / 100
	b, _ := json.Marshal(out)
	os.Stdout.Write(append(b, '\n'))
	os.Exit(0)
}

func short(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}

func main() {
	go func() {
		time.Sleep(20 * time.Second)
		finish(map[string]interface{}{"error": "timeout: no answer in 20 s"})
	}()
	sess, err := session.NewSession(&aws.Config{Region: aws.String("us-east-1")})
	if err != nil {
		finish(map[string]interface{}{"error": short(err)})
	}
	client := sts.New(sess, &aws.Config{Endpoint: aws.String(os.Getenv("WHOAMI_STS_ENDPOINT")), MaxRetries: aws.Int(0)})
	res, err := client.GetCallerIdentity(&sts.GetCallerIdentityInput{})
	if err != nil {
		finish(map[string]interface{}{"error": short(err)})
	}
	finish(map[string]interface{}{"arn": aws.StringValue(res.Arn)})
}
