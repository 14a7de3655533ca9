package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestDemo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"demo", "--households", "60", "--addr", "127.0.0.1:0"}, pw, io.Discard)
		pw.Close()
	}()

	var url, token string
	var households []string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "URL: "):
			url = strings.TrimPrefix(line, "URL: ")
		case strings.HasPrefix(line, "Admin token: "):
			token = strings.TrimPrefix(line, "Admin token: ")
		case strings.HasPrefix(line, "Example households: "):
			households = strings.Fields(strings.TrimPrefix(line, "Example households: "))
		}
		if strings.HasPrefix(line, "Press Ctrl-C") {
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if url == "" || token == "" || len(households) != 2 {
		t.Fatalf("demo printed url=%q token=%q households=%v", url, token, households)
	}

	req, _ := http.NewRequest("GET", url+"/api/v1/households/"+households[0]+"/entitlements", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Entitlements []struct {
			Program string `json:"program"`
			Granted int64  `json:"granted"`
		} `json:"entitlements"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("entitlements status %d", resp.StatusCode)
	}
	resp, err = http.Get(url + "/api/v1/programs")
	if err != nil {
		t.Fatal(err)
	}
	var progs struct {
		Programs []json.RawMessage `json:"programs"`
	}
	json.NewDecoder(resp.Body).Decode(&progs)
	resp.Body.Close()
	if len(progs.Programs) != 4 {
		t.Fatalf("demo has %d programs, want 4", len(progs.Programs))
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("demo stopped with %v", err)
	}
}
