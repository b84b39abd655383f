package labelcopy

import (
	"maps"
	"strings"
	"testing"
)

var labels = map[string]string{
	"com.docker.compose.project":     "shop",
	"com.docker.compose.service":     "web",
	"com.docker.compose.config-hash": "9f2c",
	"org.opencontainers.image.title": "web",
	"team":                           "payments",
	"traefik.http.routers.web.rule":  "Host(`x`)",
}

func TestSelector(t *testing.T) {
	for _, tc := range []struct {
		name             string
		include, exclude []string
		want             []string // label keys copied
	}{
		{"no include copies nothing", nil, []string{"*"}, nil},
		{"everything", []string{"*"}, nil, []string{
			"com.docker.compose.project", "com.docker.compose.service", "com.docker.compose.config-hash",
			"org.opencontainers.image.title", "team", "traefik.http.routers.web.rule"}},
		{"glob include", []string{"com.docker.compose.*"}, nil, []string{
			"com.docker.compose.project", "com.docker.compose.service", "com.docker.compose.config-hash"}},
		{"exclude wins", []string{"com.docker.compose.*", "team"}, []string{"*config-hash"}, []string{
			"com.docker.compose.project", "com.docker.compose.service", "team"}},
		{"regex include and exclude", []string{"/^(team|com\\.docker\\.)/"}, []string{"/hash$/", "/service/"}, []string{
			"com.docker.compose.project", "team"}},
		{"exact keys", []string{"team", "missing"}, nil, []string{"team"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Compile(tc.include, tc.exclude)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			s.Each(labels, func(k, attr, v string) {
				if attr != AttributePrefix+k {
					t.Errorf("label %q copied to %q", k, attr)
				}
				got[attr] = v
			})
			want := map[string]string{}
			for _, k := range tc.want {
				want[AttributePrefix+k] = labels[k]
			}
			if !maps.Equal(got, want) {
				t.Errorf("copied %v, want %v", got, want)
			}
		})
	}
}

func TestCompileErrorsNamePatterns(t *testing.T) {
	_, err := Compile([]string{"ok", ""}, []string{"*", "/(/"})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"labels.include[1]: empty pattern", "labels.exclude[1]: bad regex"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "images") {
		t.Errorf("error %q leaks match's key names", err)
	}
}
