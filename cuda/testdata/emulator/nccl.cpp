// NCCL emulated for the CPU emulator, enough for gococa's data-parallel
// tests: float32 sum all-reduce, all-gather and broadcast between ranks in
// separate processes of one machine. ncclGetUniqueId starts a relay thread
// in the calling process (rank 0) and puts its TCP port in the id; every
// rank's ncclCommInitRank connects to it with its rank and device, and the
// relay checks, as NCCL does, that no two ranks share a GPU. A collective
// is queued on the stream: a thread of its own sends the rank's data to the
// relay and writes the result into device memory, and later work on the
// stream waits for it (cuStreamQuery polls it). ncclCommAbort closes the
// connection, which ends a collective in flight with an error.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <vector>

typedef int ncclResult_t;
enum { ncclSuccess = 0, ncclSystemError = 2, ncclInternalError = 3, ncclInvalidArgument = 4, ncclInvalidUsage = 5, ncclRemoteError = 6 };
typedef struct { char internal[128]; } ncclUniqueId;

static const char emu_nccl_magic[] = "gococa-emulated-nccl";

struct EmuComm {
	int fd, rank, nranks, dev;
	std::atomic<int> error;
};

static bool emu_io(int fd, void* p, size_t n, bool wr) {
	char* c = (char*)p;
	while (n > 0) {
		ssize_t k = wr ? send(fd, c, n, MSG_NOSIGNAL) : recv(fd, c, n, 0);
		if (k <= 0) return false;
		c += k;
		n -= (size_t)k;
	}
	return true;
}

// The relay: a thread of rank 0's process. Messages from a rank: a header
// {op, count, root} and count floats (all-gather, all-reduce, broadcast
// from the root); replies: the result's floats.
struct EmuHdr {
	int op; // 0 all-reduce, 1 all-gather, 2 broadcast
	int root;
	long long count;
};

// Replies go to the other processes' ranks first: this process may exit
// as soon as its own rank has its reply.
static void emu_relay(int lfd, int nranks) {
	std::vector<int> fds(nranks, -1);
	std::vector<int> devs(nranks, -1);
	std::vector<int> order; // ranks, this process's last
	int local = -1;
	int joined = 0;
	while (joined < nranks) {
		int c = accept(lfd, NULL, NULL);
		if (c < 0) return;
		int hello[4]; // rank, nranks, device, pid
		if (!emu_io(c, hello, sizeof hello, false) || hello[0] < 0 || hello[0] >= nranks || hello[1] != nranks || fds[hello[0]] >= 0) {
			close(c);
			continue;
		}
		fds[hello[0]] = c;
		devs[hello[0]] = hello[2];
		if (hello[3] == getpid()) {
			local = hello[0];
		} else {
			order.push_back(hello[0]);
		}
		joined++;
	}
	if (local >= 0) order.push_back(local);
	close(lfd);
	// Every rank on its own device (all ranks are on this machine).
	int status = 0;
	for (int i = 0; i < nranks && !status; i++)
		for (int j = i + 1; j < nranks; j++)
			if (devs[i] == devs[j]) {
				fprintf(stderr, "emulated NCCL: Duplicate GPU detected: rank %d and rank %d both on CUDA device %d\n", i, j, devs[i]);
				status = ncclInvalidUsage;
				break;
			}
	for (int r : order) emu_io(fds[r], &status, sizeof status, true);
	if (status) {
		for (int r = 0; r < nranks; r++) close(fds[r]);
		return;
	}
	std::vector<float> acc, in;
	for (;;) {
		EmuHdr h0;
		bool ok = true;
		for (int r = 0; r < nranks && ok; r++) {
			EmuHdr h;
			ok = emu_io(fds[r], &h, sizeof h, false);
			if (!ok) break;
			if (r == 0) {
				h0 = h;
				acc.assign(h.op == 1 ? h.count * nranks : h.count, 0.f);
			} else if (h.op != h0.op || h.count != h0.count || h.root != h0.root) {
				fprintf(stderr, "emulated NCCL: rank %d called another collective than rank 0\n", r);
				ok = false;
				break;
			}
			in.resize(h.count);
			ok = emu_io(fds[r], in.data(), sizeof(float) * h.count, false);
			if (!ok) break;
			switch (h.op) {
			case 0: // in rank order; 0 + x0 is x0, so two ranks give x0 + x1
				for (long long i = 0; i < h.count; i++) acc[i] += in[i];
				break;
			case 1: memcpy(acc.data() + r * h.count, in.data(), sizeof(float) * h.count); break;
			case 2: if (r == h.root) memcpy(acc.data(), in.data(), sizeof(float) * h.count); break;
			}
		}
		if (!ok) break;
		for (int r : order) ok = ok && emu_io(fds[r], acc.data(), sizeof(float) * acc.size(), true);
		if (!ok) break;
	}
	for (int r = 0; r < nranks; r++) close(fds[r]);
}

// emu_collective queues one collective on stream s: send count floats
// from send, receive rcount floats into recv.
static ncclResult_t emu_collective(EmuComm* c, int op, int root, const void* send, long long count, void* recv,
		long long rcount, void* s) {
	std::lock_guard<std::recursive_mutex> l(emu_mu);
	if (c == NULL || c->fd < 0) return ncclInvalidArgument;
	if (c->error) return (ncclResult_t)c->error.load();
	EmuStream* st = (EmuStream*)s;
	if (emu_check_stream(s) != 0 || st->dev != c->dev) {
		fprintf(stderr, "emulated NCCL: rank %d: collective on a stream of device %d, the communicator is on device %d\n",
			c->rank, st ? st->dev : -1, c->dev);
		return ncclInvalidArgument;
	}
	if (emu_begin(s) != 0) return ncclInternalError;
	emu_kernel_name = "nccl collective";
	emu_xlate_bad = false;
	const char* src = emu_xlate((const char*)send);
	char* dst = emu_xlate((char*)recv);
	if (emu_xlate_bad || !emu_in_arena(send) || !emu_in_arena(recv)) {
		fprintf(stderr, "emulated NCCL: rank %d: buffers must be device memory\n", c->rank);
		return ncclInvalidArgument;
	}
	emu_stats.collectives++;
	st->done = false;
	st->error = 0;
	st->pending = new std::thread([c, op, root, src, count, dst, rcount, st]() {
		EmuHdr h{op, root, count};
		bool ok = emu_io(c->fd, &h, sizeof h, true) && emu_io(c->fd, (void*)src, sizeof(float) * count, true) &&
			emu_io(c->fd, dst, sizeof(float) * rcount, false);
		if (!ok) {
			c->error = ncclRemoteError;
			st->error = 1;
		}
		st->done = true;
	});
	return ncclSuccess;
}

extern "C" {

ncclResult_t ncclGetVersion(int* v) { *v = 21800; return ncclSuccess; }
const char* ncclGetErrorString(ncclResult_t r) {
	switch (r) {
	case ncclSuccess: return "no error";
	case ncclInvalidUsage: return "invalid usage (run with NCCL_DEBUG=WARN for details)";
	case ncclRemoteError: return "remote process exited or there was a network error";
	default: return "emulated NCCL error";
	}
}

ncclResult_t ncclGetUniqueId(ncclUniqueId* id) {
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) return ncclSystemError;
	sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t n = sizeof a;
	if (bind(fd, (sockaddr*)&a, sizeof a) != 0 || listen(fd, 64) != 0 || getsockname(fd, (sockaddr*)&a, &n) != 0) {
		close(fd);
		return ncclSystemError;
	}
	memset(id, 0, sizeof *id);
	memcpy(id->internal, emu_nccl_magic, sizeof emu_nccl_magic);
	int port = ntohs(a.sin_port);
	memcpy(id->internal + 64, &port, sizeof port);
	memcpy(id->internal + 68, &fd, sizeof fd); // the relay starts with the first ncclCommInitRank that names the world size
	int pid = getpid();
	memcpy(id->internal + 72, &pid, sizeof pid);
	return ncclSuccess;
}

ncclResult_t ncclCommInitRank(EmuComm** comm, int nranks, ncclUniqueId id, int rank) {
	if (memcmp(id.internal, emu_nccl_magic, sizeof emu_nccl_magic) != 0 || nranks < 1 || rank < 0 || rank >= nranks)
		return ncclInvalidArgument;
	if (emu_cur_dev < 0) return 1; // ncclUnhandledCudaError: no current context
	int port, lfd, pid;
	memcpy(&port, id.internal + 64, sizeof port);
	memcpy(&lfd, id.internal + 68, sizeof lfd);
	memcpy(&pid, id.internal + 72, sizeof pid);
	if (pid == getpid()) std::thread(emu_relay, lfd, nranks).detach(); // the process that made the id runs the relay
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((unsigned short)port);
	if (connect(fd, (sockaddr*)&a, sizeof a) != 0) {
		close(fd);
		return ncclSystemError;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	int hello[4] = {rank, nranks, emu_cur_dev, (int)getpid()};
	int status = ncclSystemError;
	if (!emu_io(fd, hello, sizeof hello, true) || !emu_io(fd, &status, sizeof status, false) || status != 0) { // blocks until every rank joined
		close(fd);
		return status ? status : ncclSystemError;
	}
	EmuComm* c = new EmuComm;
	c->fd = fd;
	c->rank = rank;
	c->nranks = nranks;
	c->dev = emu_cur_dev;
	c->error = 0;
	*comm = c;
	return ncclSuccess;
}

ncclResult_t ncclCommDestroy(EmuComm* c) {
	if (c == NULL) return ncclInvalidArgument;
	close(c->fd);
	c->fd = -1;
	return ncclSuccess;
}
ncclResult_t ncclCommAbort(EmuComm* c) {
	if (c == NULL) return ncclInvalidArgument;
	shutdown(c->fd, SHUT_RDWR); // a collective in flight fails
	return ncclSuccess;
}
ncclResult_t ncclCommGetAsyncError(EmuComm* c, ncclResult_t* e) {
	if (c == NULL) return ncclInvalidArgument;
	*e = c->error;
	return ncclSuccess;
}

// Only float32 (ncclFloat32 = 7) sums (ncclSum = 0) are emulated.
ncclResult_t ncclAllReduce(const void* send, void* recv, size_t count, int type, int op, EmuComm* c, void* s) {
	if (type != 7 || op != 0) return ncclInvalidArgument;
	return emu_collective(c, 0, 0, send, (long long)count, recv, (long long)count, s);
}
ncclResult_t ncclAllGather(const void* send, void* recv, size_t count, int type, EmuComm* c, void* s) {
	if (type != 7 || c == NULL) return ncclInvalidArgument;
	return emu_collective(c, 1, 0, send, (long long)count, recv, (long long)count * c->nranks, s);
}
ncclResult_t ncclBroadcast(const void* send, void* recv, size_t count, int type, int root, EmuComm* c, void* s) {
	if (type != 7 || c == NULL || root < 0 || root >= c->nranks) return ncclInvalidArgument;
	return emu_collective(c, 2, root, send, (long long)count, recv, (long long)count, s);
}

} // extern "C"
