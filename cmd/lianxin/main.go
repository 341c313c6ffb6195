// Command lianxin is the intake gateway of a 12345 government-service
// hotline. With no subcommand it serves everything: the HTTP API, the agent
// desk and its websocket, and the intake channels.
//
//	lianxin [-config FILE]               serve (FILE defaults to $LIANXIN_CONFIG)
//	lianxin check-config FILE            validate a configuration file
//	lianxin hash-password                read a password on stdin, print its bcrypt hash
//	lianxin hash-password -phone USER    … or the HA1 hashes of a SIP phone (realm: sip.realm)
//	lianxin report --day 2026-11-30      a report from the archive (--week, --month; --format text|csv|json|html)
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/lianxin/lianxin/configs"
	"golang.org/x/crypto/bcrypt"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		fs := flag.NewFlagSet("lianxin", flag.ContinueOnError)
		fs.SetOutput(stderr)
		path := fs.String("config", configs.PathFromEnv(os.Getenv), "configuration file (env LIANXIN_CONFIG); empty: embedded defaults")
		if err := fs.Parse(args); err != nil {
			return 2
		}
		if err := serve(context.Background(), *path, os.Getenv, stderr); err != nil {
			fmt.Fprintln(stderr, "lianxin:", err)
			return 1
		}
		return 0
	case "check-config":
		if len(args) != 1 {
			fmt.Fprintln(stderr, "usage: lianxin check-config FILE")
			return 2
		}
		if err := configs.Check(args[0]); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		// Valid, but perhaps not what the hotline wants: said, and still ok.
		if c, err := configs.Load(args[0], os.Getenv); err == nil {
			for _, w := range c.Warnings() {
				fmt.Fprintf(stdout, "%s: warning: %s\n", args[0], w)
			}
		}
		fmt.Fprintf(stdout, "%s: ok\n", args[0])
		return 0
	case "hash-password":
		return hashPassword(args, stdin, stdout, stderr)
	case "report":
		return report(context.Background(), args, os.Getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, "usage: lianxin [serve] [-config FILE] | check-config FILE | hash-password [-phone USER [-config FILE]] | "+
			"report (--day D | --week W | --month M) [--format text|csv|json|html] [-config FILE]")
		return 0
	}
	fmt.Fprintf(stderr, "lianxin: unknown command %q (serve, check-config, hash-password, report)\n", cmd)
	return 2
}

// hashPassword reads a password on stdin and prints its bcrypt hash for
// agents[].password_hash or, with -phone, the digest HA1 hashes of a SIP
// phone for agents[].phone, computed with the realm of the configuration.
func hashPassword(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hash-password", flag.ContinueOnError)
	fs.SetOutput(stderr)
	phone := fs.String("phone", "", "print the HA1 hashes of this SIP phone user instead of a bcrypt hash")
	path := fs.String("config", configs.PathFromEnv(os.Getenv), "configuration whose sip.realm the phone hashes use (env LIANXIN_CONFIG); empty: the embedded defaults")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: lianxin hash-password [-phone USER [-config FILE]] < password")
		return 2
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintln(stderr, err)
		return 1
	}
	pw := strings.TrimRight(line, "\r\n")
	if len(pw) < 8 {
		fmt.Fprintln(stderr, "a password needs at least 8 characters")
		return 1
	}
	if *phone != "" {
		c, err := configs.Load(*path, os.Getenv)
		if err != nil {
			fmt.Fprintln(stderr, "lianxin: the realm comes from the configuration:", err)
			return 1
		}
		md5Hex, sha256Hex := configs.HA1(*phone, c.SIP.Realm, pw)
		fmt.Fprintf(stdout, "# phone user %q, realm %q: put under the agent in agents[]\n", *phone, c.SIP.Realm)
		fmt.Fprintf(stdout, "phone:\n  user: %q\n  ha1_md5: %s\n  ha1_sha256: %s\n", *phone, md5Hex, sha256Hex)
		return 0
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintln(stdout, string(h))
	return 0
}
