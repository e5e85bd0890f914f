// Command world-vcsim serves govmomi's vCenter simulator on loopback with the
// inventory the bde-heat test world needs: two datacenters, a distributed
// switch per datacenter, a powered-off node template VM that the BDE simulator
// clones, unique NIC MACs, optional background VMs for scale measurements, and
// a fault knob (POST /world/faults?rate=0.2) for the resilience tests.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "host:port to serve on (loopback only)")
	user := flag.String("username", "", "the only user name that may log in")
	passwordFile := flag.String("password-file", "", "file holding the only password that may log in")
	certFile := flag.String("cert", "", "TLS certificate (PEM)")
	keyFile := flag.String("key", "", "TLS private key (PEM)")
	urlFile := flag.String("url-file", "", "where to write the SDK URL (no credentials) once serving")
	template := flag.String("template", "bde-node-template", "name of the node template VM in DC0")
	extraVMs := flag.Int("extra-vms", 0, "background VMs to add in DC1 (a busy vCenter)")
	delayMs := flag.Int("delay-ms", 0, "latency added to every SOAP call, in milliseconds")
	flag.Parse()

	if *user == "" || *passwordFile == "" || *certFile == "" || *keyFile == "" {
		log.Fatal("world-vcsim: -username, -password-file, -cert and -key are required")
	}
	password, err := os.ReadFile(*passwordFile)
	if err != nil {
		log.Fatalf("world-vcsim: reading the password file: %v", err)
	}
	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		log.Fatalf("world-vcsim: loading the TLS key pair: %v", err)
	}

	model := simulator.VPX()
	model.Datacenter = 2
	model.Cluster = 1
	model.ClusterHost = 2
	model.Host = 0
	model.Pool = 1
	model.Machine = 1
	model.Portgroup = 1
	model.Datastore = 1
	model.DelayConfig.Delay = *delayMs
	if err := model.Create(); err != nil {
		log.Fatalf("world-vcsim: creating the inventory: %v", err)
	}
	defer model.Remove()

	macs := newMACSource()
	giveUniqueMACs(macs)

	model.Service.Listen = &url.URL{
		Host: *listen,
		User: url.UserPassword(*user, string(trimNewline(password))),
	}
	model.Service.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	server := model.Service.NewServer()
	defer server.Close()
	server.Config.Handler = (&faults{rng: rand.New(rand.NewSource(1))}).wrap(server.Config.Handler)

	ctx := context.Background()
	client, err := govmomi.NewClient(ctx, server.URL, true)
	if err != nil {
		log.Fatalf("world-vcsim: connecting to itself: %v", err)
	}
	if err := addTemplate(ctx, client, *template, macs); err != nil {
		log.Fatalf("world-vcsim: adding the node template: %v", err)
	}
	if err := addBackgroundVMs(ctx, client, *extraVMs, macs); err != nil {
		log.Fatalf("world-vcsim: adding background VMs: %v", err)
	}
	_ = client.Logout(ctx)

	public := *server.URL
	public.User = nil
	if *urlFile != "" {
		if err := os.WriteFile(*urlFile, []byte(public.String()+"\n"), 0o644); err != nil {
			log.Fatalf("world-vcsim: writing the URL file: %v", err)
		}
	}
	log.Printf("world-vcsim: serving %s (extra VMs: %d, delay: %d ms)", public.String(), *extraVMs, *delayMs)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	log.Print("world-vcsim: stopping")
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// macSource hands out MACs in VMware's vCenter-assigned range 00:50:56:80:00:00
// upwards. The simulator itself gives every model VM the same MAC.
type macSource struct {
	mu   sync.Mutex
	next int
}

func newMACSource() *macSource { return &macSource{} }

func (m *macSource) take() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.next
	m.next++
	return fmt.Sprintf("00:50:56:%02x:%02x:%02x", 0x80|((n>>16)&0x3f), (n>>8)&0xff, n&0xff)
}

// giveUniqueMACs replaces the NIC of every model VM (all share one struct)
// with a copy carrying a unique MAC, and keeps guest.net in step.
func giveUniqueMACs(macs *macSource) {
	for _, obj := range simulator.Map.All("VirtualMachine") {
		vm := obj.(*simulator.VirtualMachine)
		devices := vm.Config.Hardware.Device
		for i, dev := range devices {
			card, ok := dev.(types.BaseVirtualEthernetCard)
			if !ok {
				continue
			}
			e1000, ok := card.(*types.VirtualE1000) // the model's NIC type (esx.EthernetCard)
			if !ok {
				continue
			}
			copied := *e1000
			fresh := &copied.VirtualEthernetCard
			fresh.MacAddress = macs.take()
			fresh.AddressType = string(types.VirtualEthernetCardMacTypeAssigned)
			devices[i] = &copied
			for j := range vm.Guest.Net {
				if vm.Guest.Net[j].DeviceConfigId == fresh.Key {
					vm.Guest.Net[j].MacAddress = fresh.MacAddress
				}
			}
		}
	}
}

// nicOn returns a new vmxnet3 NIC on the given network with an explicit MAC.
func nicOn(ctx context.Context, network object.NetworkReference, mac string) (types.BaseVirtualDevice, error) {
	backing, err := network.EthernetCardBackingInfo(ctx)
	if err != nil {
		return nil, err
	}
	card, err := object.EthernetCardTypes().CreateEthernetCard("vmxnet3", backing)
	if err != nil {
		return nil, err
	}
	c := card.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard()
	c.MacAddress = mac
	c.AddressType = string(types.VirtualEthernetCardMacTypeAssigned)
	return card, nil
}

func createVM(ctx context.Context, finder *find.Finder, dc string, folderPath string, name string, mac string) (*object.VirtualMachine, error) {
	dcObj, err := finder.Datacenter(ctx, dc)
	if err != nil {
		return nil, err
	}
	finder.SetDatacenter(dcObj)
	pool, err := finder.DefaultResourcePool(ctx)
	if err != nil {
		return nil, err
	}
	folder, err := finder.Folder(ctx, folderPath)
	if err != nil {
		return nil, err
	}
	network, err := finder.Network(ctx, dc+"_DVPG0")
	if err != nil {
		return nil, err
	}
	nic, err := nicOn(ctx, network, mac)
	if err != nil {
		return nil, err
	}
	var devices object.VirtualDeviceList
	scsi, _ := devices.CreateSCSIController("pvscsi")
	devices = append(devices, scsi)
	disk := devices.CreateDisk(scsi.(types.BaseVirtualController), types.ManagedObjectReference{},
		"[LocalDS_0] "+path.Join(name, "disk1.vmdk"))
	disk.CapacityInKB = 1024
	devices = append(devices, disk, nic)
	spec := types.VirtualMachineConfigSpec{
		Name:     name,
		GuestId:  string(types.VirtualMachineGuestOsIdentifierCentos7_64Guest),
		NumCPUs:  1,
		MemoryMB: 1024,
		Files:    &types.VirtualMachineFileInfo{VmPathName: "[LocalDS_0]"},
	}
	if spec.DeviceChange, err = devices.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd); err != nil {
		return nil, err
	}
	task, err := folder.CreateVM(ctx, spec, pool, nil)
	if err != nil {
		return nil, err
	}
	info, err := task.WaitForResult(ctx, nil)
	if err != nil {
		return nil, err
	}
	return object.NewVirtualMachine(folder.Client(), info.Result.(types.ManagedObjectReference)), nil
}

// addTemplate creates the powered-off node template that BDE clones, with the
// "serengeti-snapshot" BDE clones from.
func addTemplate(ctx context.Context, client *govmomi.Client, name string, macs *macSource) error {
	finder := find.NewFinder(client.Client, false)
	vm, err := createVM(ctx, finder, "DC0", "/DC0/vm", name, macs.take())
	if err != nil {
		return err
	}
	task, err := vm.CreateSnapshot(ctx, "serengeti-snapshot", "BDE clones from here", false, false)
	if err != nil {
		return err
	}
	return task.Wait(ctx)
}

// addBackgroundVMs fills DC1 with powered-on VMs in their own folder, so that
// look-ups can be measured in a vCenter as busy as a production one.
func addBackgroundVMs(ctx context.Context, client *govmomi.Client, count int, macs *macSource) error {
	if count <= 0 {
		return nil
	}
	finder := find.NewFinder(client.Client, false)
	dc, err := finder.Datacenter(ctx, "DC1")
	if err != nil {
		return err
	}
	folders, err := dc.Folders(ctx)
	if err != nil {
		return err
	}
	if _, err := folders.VmFolder.CreateFolder(ctx, "background"); err != nil {
		return err
	}
	const workers = 8
	jobs := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			finder := find.NewFinder(client.Client, false)
			for i := range jobs {
				vm, err := createVM(ctx, finder, "DC1", "/DC1/vm/background", fmt.Sprintf("bg-%05d", i), macs.take())
				if err == nil {
					_, err = vm.PowerOn(ctx)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := 0; i < count; i++ {
		select {
		case jobs <- i:
		case err := <-errs:
			close(jobs)
			wg.Wait()
			return err
		}
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// faults answers a share of SOAP calls with 503 before vcsim handles them, as a
// flaky vCenter or its load balancer does (nothing was done, so a retry is
// safe), and can slow every call down, as a loaded vCenter does.
// POST /world/faults?rate=R&delay_ms=D sets them (either may be left out; rate
// resets the counts); GET shows them with the counts.
type faults struct {
	mu      sync.Mutex
	rng     *rand.Rand
	rate    float64
	delayMs int
	failed  int
	passed  int
}

func (f *faults) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/world/faults" {
			f.admin(w, r)
			return
		}
		if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/sdk") {
			fail, delay := f.decide()
			time.Sleep(delay)
			if fail {
				http.Error(w, "injected fault", http.StatusServiceUnavailable)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// decide says whether this call fails, and how long it waits first.
func (f *faults) decide() (bool, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delay := time.Duration(f.delayMs) * time.Millisecond
	if f.rng.Float64() < f.rate {
		f.failed++
		return true, delay
	}
	f.passed++
	return false, delay
}

func (f *faults) admin(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method == http.MethodPost {
		q := r.URL.Query()
		if q.Has("rate") {
			rate, err := strconv.ParseFloat(q.Get("rate"), 64)
			if err != nil || rate < 0 || rate > 1 {
				http.Error(w, "rate: a number from 0 to 1", http.StatusBadRequest)
				return
			}
			f.rate, f.failed, f.passed = rate, 0, 0
		}
		if q.Has("delay_ms") {
			delay, err := strconv.Atoi(q.Get("delay_ms"))
			if err != nil || delay < 0 || delay > 60000 {
				http.Error(w, "delay_ms: milliseconds from 0 to 60000", http.StatusBadRequest)
				return
			}
			f.delayMs = delay
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]interface{}{
		"rate": f.rate, "delay_ms": f.delayMs, "failed": f.failed, "passed": f.passed})
}
