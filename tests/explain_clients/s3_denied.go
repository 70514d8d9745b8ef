// GetObject against $S3_ENDPOINT with aws-sdk-go (v1); logs the error the way applications do
// (log.Printf("...: %v", err)).
package main

import (
	"log"
	"os"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/s3"
)

func main() {
	sess, err := session.NewSession(&aws.Config{Region: aws.String("us-east-1"), Endpoint: aws.String(os.Getenv("S3_ENDPOINT")),
		S3ForcePathStyle: aws.Bool(true), MaxRetries: aws.Int(0)})
	if err != nil {
		log.Fatalf("session: %v", err)
	}
	_, err = s3.New(sess).GetObject(&s3.GetObjectInput{Bucket: aws.String("amzn-s3-demo-bucket1"), Key: aws.String("object-name")})
	if err != nil {
		log.Printf("download failed: %v", err)
	}
}
