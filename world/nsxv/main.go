// Command world-nsxv plays NSX-v's part in the bde-heat test world: for every
// Neutron network it adds, after a configurable delay, the distributed
// portgroup NSX-v would back it with,
//
//	vxw-<dvs-moref>-virtualwire-<m>-sid-<vni>-<network-uuid>
//
// on the distributed switch of the first datacenter, and removes that
// portgroup once the network is gone. It reads Neutron as the cloud admin.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"syscall"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// config is read from a JSON file so that no password is on a command line.
type config struct {
	VCenterURL      string  `json:"vcenter_url"`
	VCenterUser     string  `json:"vcenter_username"`
	VCenterPassword string  `json:"vcenter_password"`
	KeystoneURL     string  `json:"keystone_url"`
	NeutronURL      string  `json:"neutron_url"`
	AdminUser       string  `json:"admin_username"`
	AdminPassword   string  `json:"admin_password"`
	AdminProject    string  `json:"admin_project"`
	DelaySeconds    float64 `json:"delay_seconds"`
	Datacenter      string  `json:"datacenter"`
	Switch          string  `json:"switch"`
}

var vxwName = regexp.MustCompile(`^vxw-(dvs-\d+)-virtualwire-(\d+)-sid-(\d+)-(.+)$`)

func main() {
	configPath := flag.String("config", "", "JSON configuration file")
	caFile := flag.String("ca-file", "", "CA bundle that signs vCenter's certificate")
	stateFile := flag.String("state-file", "", "where to write the network-to-portgroup map (JSON)")
	flag.Parse()
	raw, err := os.ReadFile(*configPath)
	if err != nil {
		log.Fatalf("world-nsxv: reading the config: %v", err)
	}
	var cfg config
	if err := json.Unmarshal(raw, &cfg); err != nil {
		log.Fatalf("world-nsxv: parsing the config: %v", err)
	}

	ctx := context.Background()
	vc, err := connectVCenter(ctx, cfg, *caFile)
	if err != nil {
		log.Fatalf("world-nsxv: connecting to vCenter: %v", err)
	}
	finder := find.NewFinder(vc.Client, false)
	dc, err := finder.Datacenter(ctx, cfg.Datacenter)
	if err != nil {
		log.Fatalf("world-nsxv: datacenter %s: %v", cfg.Datacenter, err)
	}
	finder.SetDatacenter(dc)
	netRef, err := finder.Network(ctx, cfg.Switch)
	if err != nil {
		log.Fatalf("world-nsxv: switch %s: %v", cfg.Switch, err)
	}
	dvs := netRef.(*object.DistributedVirtualSwitch)

	w := &watcher{cfg: cfg, vc: vc, dvs: dvs, firstSeen: map[string]time.Time{}, http: &http.Client{Timeout: 30 * time.Second}, stateFile: *stateFile}
	if err := w.loadExisting(ctx); err != nil {
		log.Fatalf("world-nsxv: reading existing portgroups: %v", err)
	}
	log.Printf("world-nsxv: watching Neutron networks (delay %.1fs, switch %s = %s)", cfg.DelaySeconds, cfg.Switch, dvs.Reference().Value)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			log.Print("world-nsxv: stopping")
			_ = vc.Logout(ctx)
			return
		case <-tick.C:
			if err := w.sync(ctx); err != nil {
				log.Printf("world-nsxv: sync failed (will retry): %v", err)
			}
		}
	}
}

func connectVCenter(ctx context.Context, cfg config, caFile string) (*govmomi.Client, error) {
	u, err := url.Parse(cfg.VCenterURL)
	if err != nil {
		return nil, err
	}
	// Verify vCenter's certificate against the world's CA, like the product does.
	soapClient := soap.NewClient(u, false)
	if err := soapClient.SetRootCAs(caFile); err != nil {
		return nil, err
	}
	vimClient, err := vim25.NewClient(ctx, soapClient)
	if err != nil {
		return nil, err
	}
	client := &govmomi.Client{Client: vimClient, SessionManager: session.NewManager(vimClient)}
	if err := client.Login(ctx, url.UserPassword(cfg.VCenterUser, cfg.VCenterPassword)); err != nil {
		return nil, err
	}
	return client, nil
}

type watcher struct {
	cfg       config
	vc        *govmomi.Client
	dvs       *object.DistributedVirtualSwitch
	http      *http.Client
	token     string
	tokenAt   time.Time
	firstSeen map[string]time.Time
	portgroup map[string]types.ManagedObjectReference // network UUID -> portgroup
	names     map[string]string                       // network UUID -> portgroup name
	stateFile string
	nextWire  int
	nextVNI   int
}

func (w *watcher) loadExisting(ctx context.Context) error {
	w.portgroup = map[string]types.ManagedObjectReference{}
	w.names = map[string]string{}
	w.nextWire, w.nextVNI = 1, 5000
	m := view.NewManager(w.vc.Client)
	v, err := m.CreateContainerView(ctx, w.vc.ServiceContent.RootFolder, []string{"DistributedVirtualPortgroup"}, true)
	if err != nil {
		return err
	}
	defer v.Destroy(ctx)
	var pgs []mo.DistributedVirtualPortgroup
	if err := v.Retrieve(ctx, []string{"DistributedVirtualPortgroup"}, []string{"name"}, &pgs); err != nil {
		return err
	}
	for _, pg := range pgs {
		match := vxwName.FindStringSubmatch(pg.Name)
		if match == nil {
			continue
		}
		wire, _ := strconv.Atoi(match[2])
		vni, _ := strconv.Atoi(match[3])
		if wire >= w.nextWire {
			w.nextWire = wire + 1
		}
		if vni >= w.nextVNI {
			w.nextVNI = vni + 1
		}
		w.portgroup[match[4]] = pg.Reference()
		w.names[match[4]] = pg.Name
	}
	return w.writeState()
}

// writeState publishes the network-to-portgroup map for `scripts/world net`.
func (w *watcher) writeState() error {
	if w.stateFile == "" {
		return nil
	}
	data, err := json.Marshal(w.names)
	if err != nil {
		return err
	}
	tmp := w.stateFile + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, w.stateFile)
}

func (w *watcher) sync(ctx context.Context) error {
	networks, err := w.listNetworks(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	present := map[string]bool{}
	for _, id := range networks {
		present[id] = true
		if _, done := w.portgroup[id]; done {
			continue
		}
		seen, ok := w.firstSeen[id]
		if !ok {
			w.firstSeen[id] = now
			seen = now
		}
		if now.Sub(seen).Seconds() < w.cfg.DelaySeconds {
			continue
		}
		if err := w.addPortgroup(ctx, id); err != nil {
			return err
		}
	}
	for id, ref := range w.portgroup {
		if present[id] {
			continue
		}
		if err := w.removePortgroup(ctx, id, ref); err != nil {
			return err
		}
	}
	for id := range w.firstSeen {
		if !present[id] {
			delete(w.firstSeen, id)
		}
	}
	return nil
}

func (w *watcher) addPortgroup(ctx context.Context, networkID string) error {
	name := fmt.Sprintf("vxw-%s-virtualwire-%d-sid-%d-%s", w.dvs.Reference().Value, w.nextWire, w.nextVNI, networkID)
	task, err := w.dvs.AddPortgroup(ctx, []types.DVPortgroupConfigSpec{{
		Name:     name,
		Type:     string(types.DistributedVirtualPortgroupPortgroupTypeEarlyBinding),
		NumPorts: 128,
	}})
	if err != nil {
		return err
	}
	if err := task.Wait(ctx); err != nil {
		return err
	}
	ref, err := w.findPortgroup(ctx, name)
	if err != nil {
		return err
	}
	w.portgroup[networkID] = ref
	w.names[networkID] = name
	w.nextWire++
	w.nextVNI++
	log.Printf("world-nsxv: network %s -> portgroup %s (%s)", networkID, name, ref.Value)
	return w.writeState()
}

func (w *watcher) findPortgroup(ctx context.Context, name string) (types.ManagedObjectReference, error) {
	var dvs mo.DistributedVirtualSwitch
	pc := property.DefaultCollector(w.vc.Client)
	if err := pc.RetrieveOne(ctx, w.dvs.Reference(), []string{"portgroup"}, &dvs); err != nil {
		return types.ManagedObjectReference{}, err
	}
	var pgs []mo.DistributedVirtualPortgroup
	if err := pc.Retrieve(ctx, dvs.Portgroup, []string{"name"}, &pgs); err != nil {
		return types.ManagedObjectReference{}, err
	}
	for _, pg := range pgs {
		if pg.Name == name {
			return pg.Reference(), nil
		}
	}
	return types.ManagedObjectReference{}, fmt.Errorf("portgroup %s not found after creating it", name)
}

func (w *watcher) removePortgroup(ctx context.Context, networkID string, ref types.ManagedObjectReference) error {
	task, err := object.NewDistributedVirtualPortgroup(w.vc.Client, ref).Destroy(ctx)
	if err != nil {
		return err
	}
	if err := task.Wait(ctx); err != nil {
		return err
	}
	delete(w.portgroup, networkID)
	delete(w.names, networkID)
	log.Printf("world-nsxv: network %s gone, portgroup %s removed", networkID, ref.Value)
	return w.writeState()
}

// listNetworks returns the ids of every Neutron network, of every project.
func (w *watcher) listNetworks(ctx context.Context) ([]string, error) {
	token, err := w.adminToken(ctx)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.cfg.NeutronURL+"/v2.0/networks?fields=id", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Auth-Token", token)
	resp, err := w.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		w.token = ""
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("neutron network list: HTTP %d", resp.StatusCode)
	}
	var body struct {
		Networks []struct {
			ID string `json:"id"`
		} `json:"networks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(body.Networks))
	for _, n := range body.Networks {
		ids = append(ids, n.ID)
	}
	return ids, nil
}

func (w *watcher) adminToken(ctx context.Context) (string, error) {
	if w.token != "" && time.Since(w.tokenAt) < 30*time.Minute {
		return w.token, nil
	}
	auth := map[string]interface{}{
		"auth": map[string]interface{}{
			"identity": map[string]interface{}{
				"methods": []string{"password"},
				"password": map[string]interface{}{"user": map[string]interface{}{
					"name": w.cfg.AdminUser, "domain": map[string]string{"id": "default"}, "password": w.cfg.AdminPassword,
				}},
			},
			"scope": map[string]interface{}{"project": map[string]interface{}{
				"name": w.cfg.AdminProject, "domain": map[string]string{"id": "default"},
			}},
		},
	}
	body, _ := json.Marshal(auth)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.KeystoneURL+"/v3/auth/tokens", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("keystone token: HTTP %d", resp.StatusCode)
	}
	w.token = resp.Header.Get("X-Subject-Token")
	w.tokenAt = time.Now()
	return w.token, nil
}
