// Command byo-frontend is a small authorization server front end of a
// company's own ("bring your own front end"): its own sign-in with its own
// demo user, its own verification page, and its own device authorization
// and token endpoints, which hand every OAuth decision to Latchkey's
// service API (Authlete's API: /api/device/authorization,
// /api/device/verification, /api/device/complete, /api/auth/token). It
// knows nothing of Latchkey's insides: it speaks HTTP to the API with a
// service key, as it would to Authlete.
//
//	latchkey api-keys create --name "byo front end"
//	LATCHKEY_API_KEY=... LATCHKEY_API_SECRET=... go run ./examples/byo-frontend \
//	    --api http://127.0.0.1:8080/api --listen 127.0.0.1:9090
//
// and in Latchkey's configuration:
//
//	service_api:
//	  verification_uri: http://127.0.0.1:9090/device
//	  verification_uri_complete: http://127.0.0.1:9090/device?user_code=USER_CODE
//
// A device then asks http://127.0.0.1:9090/device_authorization and polls
// http://127.0.0.1:9090/token; the person signs in as ann / ann-password.
package main

import (
	"flag"
	"log"
	"net/http"
	"os"
	"time"
)

func main() {
	api := flag.String("api", "http://127.0.0.1:8080/api", "Latchkey's service API: its issuer and /api (or /api/SERVICE_ID with --bearer)")
	listen := flag.String("listen", "127.0.0.1:9090", "where this front end listens")
	bearer := flag.Bool("bearer", false, "use Authlete 3.0's Bearer service access token (the secret) instead of HTTP Basic")
	flag.Parse()
	fe, err := New(Config{
		API:    *api,
		Key:    os.Getenv("LATCHKEY_API_KEY"),
		Secret: os.Getenv("LATCHKEY_API_SECRET"),
		Bearer: *bearer,
		Users:  DemoUsers,
	})
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: *listen, Handler: fe, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("byo-frontend on http://%s (device authorization at /device_authorization, token at /token, people at /device)", *listen)
	log.Fatal(srv.ListenAndServe())
}
