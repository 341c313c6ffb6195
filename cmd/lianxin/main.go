// Command lianxin is the intake gateway of a 12345 government-service
// hotline. With no subcommand it serves everything: the HTTP API, the agent
// desk and its websocket, and the intake channels.
//
//	lianxin [-config FILE]               serve (FILE defaults to $LIANXIN_CONFIG)
//	lianxin check-config FILE            validate a configuration file
//	lianxin hash-password                read a password on stdin, print its bcrypt hash
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
		fmt.Fprintf(stdout, "%s: ok\n", args[0])
		return 0
	case "hash-password":
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
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintln(stdout, string(h))
		return 0
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, "usage: lianxin [serve] [-config FILE] | check-config FILE | hash-password")
		return 0
	}
	fmt.Fprintf(stderr, "lianxin: unknown command %q (serve, check-config, hash-password)\n", cmd)
	return 2
}
