// Package deploy_test checks the files of deploy/clickhouse without Docker (none runs on
// the machines this is built on): the Loupe configurations load and validate with Loupe's
// own config package, the ClickHouse and Keeper XML files are well-formed and describe 2
// shards of 2 replicas with unique macros, and the compose file and haproxy.cfg name the
// same hosts, files and ports. What only a running stack shows is listed in README.md.
package deploy_test

import (
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/loupe-dev/loupe/internal/config"
)

// node is any XML element, kept whole: remote_servers names its cluster by an element.
type node struct {
	XMLName  xml.Name
	Text     string `xml:",chardata"`
	Children []node `xml:",any"`
}

func (n node) child(name string) (node, bool) {
	for _, c := range n.Children {
		if c.XMLName.Local == name {
			return c, true
		}
	}
	return node{}, false
}

func (n node) all(name string) []node {
	var out []node
	for _, c := range n.Children {
		if c.XMLName.Local == name {
			out = append(out, c)
		}
	}
	return out
}

func (n node) text(t *testing.T, path ...string) string {
	t.Helper()
	cur := n
	for _, p := range path {
		c, ok := cur.child(p)
		require.True(t, ok, "<%s> has no <%s> (path %v)", cur.XMLName.Local, p, path)
		cur = c
	}
	return strings.TrimSpace(cur.Text)
}

func readXML(t *testing.T, path string) node {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var n node
	require.NoError(t, xml.Unmarshal(b, &n), path)
	require.Equal(t, "clickhouse", n.XMLName.Local, "%s: ClickHouse reads configuration under <clickhouse>", path)
	return n
}

// cluster is remote_servers' only cluster of clickhouse/cluster.xml: its name and, per
// shard, its replicas' host:port.
func cluster(t *testing.T) (name string, shards [][]string) {
	t.Helper()
	root := readXML(t, "clickhouse/cluster.xml")
	rs, ok := root.child("remote_servers")
	require.True(t, ok, "cluster.xml has no remote_servers")
	require.Len(t, rs.Children, 1, "one cluster in remote_servers")
	c := rs.Children[0]
	for _, sh := range c.all("shard") {
		require.Equal(t, "true", sh.text(t, "internal_replication"),
			"Loupe's tables are Replicated: a Distributed insert must go to one replica (internal_replication)")
		var hosts []string
		for _, r := range sh.all("replica") {
			hosts = append(hosts, r.text(t, "host")+":"+r.text(t, "port"))
		}
		shards = append(shards, hosts)
	}
	return c.XMLName.Local, shards
}

func hostOf(addr string) string { return strings.Split(addr, ":")[0] }

// TestXMLFilesAreWellFormed reads every XML file to its end (xml.Unmarshal stops after
// the root element; a Decoder token loop sees a stray second root or garbage after it).
func TestXMLFilesAreWellFormed(t *testing.T) {
	var files []string
	require.NoError(t, filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".xml") {
			files = append(files, path)
		}
		return err
	}))
	require.Len(t, files, 9, "cluster.xml, users.xml, 4 macros files, 3 keeper files: %v", files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		dec := xml.NewDecoder(strings.NewReader(string(b)))
		depth, roots := 0, 0
		for {
			tok, err := dec.Token()
			if err == io.EOF {
				break
			}
			require.NoError(t, err, f)
			switch tok.(type) {
			case xml.StartElement:
				if depth == 0 {
					roots++
				}
				depth++
			case xml.EndElement:
				depth--
			}
		}
		require.Equal(t, 1, roots, "%s: one root element", f)
		readXML(t, f)
	}
}

// TestClusterTwoShardsTwoReplicas: remote_servers names the four ClickHouse servers as 2
// shards of 2 replicas, and every server's macros put it in its shard with a replica name
// unique across the cluster (Loupe's migrations and dashboards tables are replicated on
// every server under one Keeper path, docs/scale-out.md).
func TestClusterTwoShardsTwoReplicas(t *testing.T) {
	name, shards := cluster(t)
	require.Equal(t, "loupe_cluster", name)
	require.Equal(t, [][]string{
		{"ch-s1-r1:9000", "ch-s1-r2:9000"},
		{"ch-s2-r1:9000", "ch-s2-r2:9000"},
	}, shards)

	shardOf := map[string]int{} // shard macro -> the shard's index in remote_servers
	replicas := map[string]string{}
	for i, hosts := range shards {
		for _, addr := range hosts {
			host := hostOf(addr)
			m := readXML(t, filepath.Join("clickhouse", "macros", host+".xml"))
			shard, replica := m.text(t, "macros", "shard"), m.text(t, "macros", "replica")
			require.NotEmpty(t, shard, host)
			require.NotEmpty(t, replica, host)
			if prev, ok := shardOf[shard]; ok {
				require.Equal(t, prev, i, "%s: shard macro %q is another shard's", host, shard)
			}
			shardOf[shard] = i
			require.NotContains(t, replicas, replica, "%s: replica macro %q is also %s's", host, replica, replicas[replica])
			replicas[replica] = host
		}
	}
	require.Len(t, shardOf, 2, "two distinct shard macros")
	require.Len(t, replicas, 4, "four distinct replica macros")
	macroFiles, err := filepath.Glob("clickhouse/macros/*.xml")
	require.NoError(t, err)
	require.Len(t, macroFiles, 4, "one macros file per server of remote_servers, no other")
}

// TestKeeper: three Keeper nodes, each with its own server_id, the same raft
// configuration, and the ClickHouse servers' zookeeper section naming all three.
func TestKeeper(t *testing.T) {
	root := readXML(t, "clickhouse/cluster.xml")
	zk, ok := root.child("zookeeper")
	require.True(t, ok, "cluster.xml has no zookeeper section")
	var zkNodes []string
	for _, n := range zk.all("node") {
		zkNodes = append(zkNodes, n.text(t, "host")+":"+n.text(t, "port"))
	}
	require.Equal(t, []string{"keeper-1:9181", "keeper-2:9181", "keeper-3:9181"}, zkNodes)

	for i, k := range []string{"keeper-1", "keeper-2", "keeper-3"} {
		n := readXML(t, filepath.Join("keeper", k+".xml"))
		require.Equal(t, strconv.Itoa(i+1), n.text(t, "keeper_server", "server_id"), k)
		require.Equal(t, "9181", n.text(t, "keeper_server", "tcp_port"), k)
		ks, _ := n.child("keeper_server")
		rc, ok := ks.child("raft_configuration")
		require.True(t, ok, k)
		var servers []string
		for _, s := range rc.all("server") {
			servers = append(servers, s.text(t, "id")+"="+s.text(t, "hostname")+":"+s.text(t, "port"))
		}
		require.Equal(t, []string{"1=keeper-1:9234", "2=keeper-2:9234", "3=keeper-3:9234"}, servers, k)
	}
}

// TestLoupeConfigs loads each node's file as `loupe serve` does (config.Load, Validate):
// the ClickHouse backend on remote_servers' cluster, a DSN naming its four servers, one
// leader, and the two files equal but for leader.
func TestLoupeConfigs(t *testing.T) {
	name, shards := cluster(t)
	var servers []string
	for _, hosts := range shards {
		servers = append(servers, hosts...)
	}
	load := func(path string) config.Config {
		f, err := os.Open(path)
		require.NoError(t, err)
		defer f.Close()
		cfg, err := config.Load(f)
		require.NoError(t, err, path)
		require.NoError(t, cfg.Validate(), path)
		return cfg
	}
	c1, c2 := load("loupe/loupe-1.yaml"), load("loupe/loupe-2.yaml")
	for _, c := range []config.Config{c1, c2} {
		ch := c.Storage.ClickHouse
		require.Equal(t, config.BackendClickHouse, c.Storage.Backend)
		require.Equal(t, name, ch.Cluster, "storage.clickhouse.cluster must be remote_servers' cluster")
		require.Equal(t, "loupe", ch.Database)
		opts, err := clickhouse.ParseDSN(ch.DSN)
		require.NoError(t, err)
		require.ElementsMatch(t, servers, opts.Addr, "the DSN names every server of the cluster")
		require.Equal(t, clickhouse.ConnOpenRoundRobin, opts.ConnOpenStrategy)
		require.Equal(t, "true", c.Auth.Enabled, "ports listen beyond loopback: authentication on")
		require.Equal(t, "0.0.0.0:7070", c.Listen.HTTP)
		require.Equal(t, "0.0.0.0:4317", c.Listen.OTLPGRPC)
		require.Equal(t, "0.0.0.0:4318", c.Listen.OTLPHTTP)
	}
	require.True(t, c1.Storage.ClickHouse.Leader, "loupe-1 is the leader")
	require.False(t, c2.Storage.ClickHouse.Leader, "loupe-2 is not")
	require.True(t, c1.Storage.RunsOnceWork())
	require.False(t, c2.Storage.RunsOnceWork())
	c2.Storage.ClickHouse.Leader = true
	require.Equal(t, c1, c2, "the nodes' files differ only in storage.clickhouse.leader")
}

type compose struct {
	Services map[string]struct {
		Image    string
		Hostname string
		Build    any
		Command  []string
		Volumes  []string
		Ports    []string
	}
	Volumes map[string]any
}

// TestCompose: the services of the stack, each mounting its files (which exist) where the
// images read them, and only the load balancer published.
func TestCompose(t *testing.T) {
	b, err := os.ReadFile("compose.yaml")
	require.NoError(t, err)
	var c compose
	require.NoError(t, yaml.Unmarshal(b, &c))

	var names []string
	for n := range c.Services {
		names = append(names, n)
	}
	slices.Sort(names)
	require.Equal(t, []string{"ch-s1-r1", "ch-s1-r2", "ch-s2-r1", "ch-s2-r2",
		"keeper-1", "keeper-2", "keeper-3", "lb", "loupe-1", "loupe-2"}, names)

	mounts := func(svc string) map[string]string { // container path -> host file
		m := map[string]string{}
		for _, v := range c.Services[svc].Volumes {
			parts := strings.Split(v, ":")
			require.GreaterOrEqual(t, len(parts), 2, "%s: volume %q", svc, v)
			if strings.HasPrefix(parts[0], "./") {
				_, err := os.Stat(parts[0])
				require.NoError(t, err, "%s mounts a file that is not in deploy/clickhouse", svc)
				require.True(t, len(parts) == 3 && parts[2] == "ro", "%s: %s read-only", svc, parts[0])
			} else {
				require.Contains(t, c.Volumes, parts[0], "%s: named volume %q declared", svc, parts[0])
			}
			m[parts[1]] = parts[0]
		}
		return m
	}
	_, shards := cluster(t)
	for _, hosts := range shards {
		for _, addr := range hosts {
			h := hostOf(addr)
			s := c.Services[h]
			require.Equal(t, h, s.Hostname, "remote_servers reaches %s by that name", h)
			require.Contains(t, s.Image, "clickhouse/clickhouse-server:")
			require.Equal(t, map[string]string{
				"/etc/clickhouse-server/config.d/cluster.xml": "./clickhouse/cluster.xml",
				"/etc/clickhouse-server/config.d/macros.xml":  "./clickhouse/macros/" + h + ".xml",
				"/etc/clickhouse-server/users.d/loupe.xml":    "./clickhouse/users.xml",
				"/var/lib/clickhouse":                         h,
			}, mounts(h))
			require.Empty(t, s.Ports, "%s is not published", h)
		}
	}
	for _, k := range []string{"keeper-1", "keeper-2", "keeper-3"} {
		require.Equal(t, k, c.Services[k].Hostname)
		require.Contains(t, c.Services[k].Image, "clickhouse/clickhouse-keeper:")
		require.Equal(t, "./keeper/"+k+".xml", mounts(k)["/etc/clickhouse-keeper/keeper_config.xml"])
	}
	for _, l := range []string{"loupe-1", "loupe-2"} {
		s := c.Services[l]
		require.Equal(t, l, s.Hostname)
		require.NotNil(t, s.Build, "%s is built from this repository (Dockerfile)", l)
		require.Equal(t, []string{"serve", "--config", "/etc/loupe/loupe.yaml"}, s.Command)
		m := mounts(l)
		require.Equal(t, "./loupe/"+l+".yaml", m["/etc/loupe/loupe.yaml"])
		require.Equal(t, "loupe-auth", m["/var/lib/loupe-auth"], "the tokens and users files are shared")
		require.Equal(t, l, m["/var/lib/loupe"], "data_dir is per node")
		require.Empty(t, s.Ports, "%s is reached through the load balancer", l)
	}
	lb := c.Services["lb"]
	require.Contains(t, lb.Image, "haproxy:")
	require.Equal(t, "./haproxy.cfg", mounts("lb")["/usr/local/etc/haproxy/haproxy.cfg"])
	require.ElementsMatch(t, []string{"7070:7070", "4317:4317", "4318:4318"}, lb.Ports)
}

// TestHAProxy: every balanced backend lists both Loupe nodes on the port of its frontend,
// and what only the leader has goes to the node whose file says leader: true.
func TestHAProxy(t *testing.T) {
	b, err := os.ReadFile("haproxy.cfg")
	require.NoError(t, err)
	backends := map[string][]string{}
	binds := map[string]string{}
	var section, name string
	server := regexp.MustCompile(`^server (\S+) (\S+)`)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if !strings.HasPrefix(line, " ") {
			section, name = f[0], ""
			if len(f) > 1 {
				name = f[1]
			}
			continue
		}
		switch {
		case section == "backend" && server.MatchString(strings.TrimSpace(line)):
			m := server.FindStringSubmatch(strings.TrimSpace(line))
			require.Equal(t, m[1], hostOf(m[2]), "server name is its host")
			backends[name] = append(backends[name], m[2])
		case section == "frontend" && f[0] == "bind":
			binds[name] = f[1]
		}
	}
	require.Equal(t, map[string]string{"http": ":7070", "otlp_http": ":4318", "otlp_grpc": ":4317"}, binds)
	require.Equal(t, map[string][]string{
		"loupe_http":      {"loupe-1:7070", "loupe-2:7070"},
		"loupe_otlp_http": {"loupe-1:4318", "loupe-2:4318"},
		"loupe_otlp_grpc": {"loupe-1:4317", "loupe-2:4317"},
		"loupe_leader":    {"loupe-1:7070"},
	}, backends)
	f, err := os.Open("loupe/loupe-1.yaml")
	require.NoError(t, err)
	defer f.Close()
	cfg, err := config.Load(f)
	require.NoError(t, err)
	require.True(t, cfg.Storage.ClickHouse.Leader, "loupe_leader's server is the configured leader")
}
