using System.Diagnostics;
using Garnet;
using StackExchange.Redis;

namespace AgentPlatform.Tests.Infrastructure;

/// <summary>
/// A real Redis Cluster for a test run, as a user's managed cluster would be: six <c>redis-server</c>
/// processes on loopback (three masters, each with a replica), joined by <c>redis-cli --cluster
/// create</c>. Its <see cref="ConnectionString"/> lists the masters as seed nodes, the way an operator
/// points <c>ConnectionStrings:cache</c> at a cluster. Without <c>redis-server</c> and <c>redis-cli</c>
/// on PATH (CI installs them), embedded Garnet servers in cluster mode, so the tests need nothing but the
/// .NET SDK: three masters, and a replica of each only for a test that fails a master over (Garnet feeds
/// replicas from an append-only log, which costs six servers' worth of disk and CPU a suite does not need).
/// </summary>
public sealed class TestRedisCluster : IAsyncDisposable
{
    private const int Masters = 3;

    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "agentplatform-tests", "cluster-" + Guid.NewGuid().ToString("N"));
    private readonly List<Node> _nodes = [];
    private readonly List<(GarnetServer Server, int Port)> _garnets = [];
    private readonly HashSet<int> _killed = [];

    private TestRedisCluster()
    {
    }

    /// <summary>The seed nodes: the three masters.</summary>
    public string ConnectionString => string.Join(',',
        _garnets.Count > 0 ? _garnets.Take(Masters).Select(g => $"127.0.0.1:{g.Port}") : _nodes.Take(Masters).Select(n => $"127.0.0.1:{n.Port}"));

    /// <param name="failover">Whether the test kills a master (<see cref="KillMasterOfAsync"/>): Garnet then starts replicas too.</param>
    public static async Task<TestRedisCluster> StartAsync(bool failover = false)
    {
        var cluster = new TestRedisCluster();
        try
        {
            if (TestRedis.FindOnPath("redis-server") is null || TestRedis.FindOnPath("redis-cli") is null)
            {
                await cluster.StartGarnetsAsync(withReplicas: failover);
                return cluster;
            }
            for (var i = 0; i < Masters * 2; i++)
            {
                cluster._nodes.Add(Node.Start(cluster._dataDirectory));
            }
            await cluster.CreateAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Kills (SIGKILL, as a crashed host goes) the master serving <paramref name="key"/>'s hash slot, and
    /// waits until its replica has taken the slot over and every node left sees the cluster ok again. How
    /// long that took.
    /// </summary>
    public async Task<TimeSpan> KillMasterOfAsync(RedisKey key)
    {
        if (_garnets.Count == Masters)
        {
            throw new InvalidOperationException("This Garnet cluster has no replicas: start it with StartAsync(failover: true).");
        }
        var ports = _garnets.Count > 0 ? _garnets.Select(g => g.Port).ToList() : _nodes.Select(n => n.Port).ToList();
        var master = await MasterOfAsync(key, ports[0]);
        var survivors = ports.Where(port => port != master).ToList();
        var started = Stopwatch.StartNew();
        if (_garnets.Count > 0)
        {
            // Garnet does not elect a new master by itself (a managed service's orchestrator does): the
            // master goes, and its replica is told to take over, as the orchestrator would.
            var index = _garnets.FindIndex(g => g.Port == master);
            _garnets[index].Server.Dispose();
            _killed.Add(master);
            var replica = _garnets[(index + Masters) % (Masters * 2)].Port;
            await AskAsync(replica, TimeSpan.FromSeconds(60), "CLUSTER", "FAILOVER", "TAKEOVER");
        }
        else
        {
            // A failover keeps what the replica has, and Redis replicates asynchronously: a crash loses what
            // its master acknowledged and had not yet sent on — on one host a millisecond of writes, and with
            // them a reservation or two of a busy budget (a run spent $1.008 of $1; docs/redis.md, "What can
            // be lost"). That loss is Redis', the same for any client, so the kill leaves it out: writes pause
            // (commands sent meanwhile wait unexecuted, as they would in the dying master's socket), the
            // replica acknowledges everything the master holds, and then the master dies. Whatever a limit, a
            // budget or the ledger shows past that is the gateway's own doing.
            await Eventually.TrueAsync(async () => ReplicaOnline(await AskAsync(master, "INFO", "replication")),
                $"the replica of port {master} to be online", Eventually.Slowly);
            await AskAsync(master, "CLIENT", "PAUSE", "60000", "WRITE");
            await Eventually.TrueAsync(async () => ReplicaHasAll(await AskAsync(master, "INFO", "replication")),
                $"the replica of port {master} to acknowledge all its master holds", Eventually.Slowly);
            _nodes.Single(node => node.Port == master).Kill();
        }
        await Eventually.TrueAsync(async () => await MasterOfAsync(key, survivors[0]) is var now && now != master && now != -1,
            $"a replica to take over the slot of port {master}", Eventually.Slowly);
        if (_garnets.Count == 0)
        {
            foreach (var port in survivors)
            {
                await Eventually.TrueAsync(() => SeesClusterOkAsync(port, ports.Count), $"node {port} to see the cluster ok again", Eventually.Slowly);
            }
        }
        return started.Elapsed;
    }

    /// <summary>
    /// Whether <see cref="KillMasterOfAsync"/> loses nothing the master acknowledged: redis-server's writes
    /// pause until its replica has them all; an embedded Garnet is stopped as it stands.
    /// </summary>
    public bool KillKeepsAcknowledgedWrites => _garnets.Count == 0;

    /// <summary>Whether the same master serves both keys' slots now (call it before killing one).</summary>
    public async Task<bool> SameMasterAsync(RedisKey first, RedisKey second)
    {
        var askPort = _garnets.Count > 0 ? _garnets[0].Port : _nodes[0].Port;
        return await MasterOfAsync(first, askPort) == await MasterOfAsync(second, askPort);
    }

    /// <summary>Whether a master's <c>INFO replication</c> shows its replica online.</summary>
    private static bool ReplicaOnline(string replication) =>
        Field(replication, "slave0:") is { } replica && replica.Split(',').Contains("state=online");

    /// <summary>Whether a master's <c>INFO replication</c> shows its replica has acknowledged every byte of its replication stream.</summary>
    private static bool ReplicaHasAll(string replication) =>
        long.Parse(Field(replication, "master_repl_offset:")!) is var held
        && Field(replication, "slave0:")?.Split(',').FirstOrDefault(f => f.StartsWith("offset=", StringComparison.Ordinal)) is { } acknowledged
        && long.Parse(acknowledged["offset=".Length..]) >= held;

    /// <summary>The value after <paramref name="name"/> on the line of <c>INFO</c> that starts with it.</summary>
    private static string? Field(string info, string name) =>
        info.Split('\n').FirstOrDefault(line => line.StartsWith(name, StringComparison.Ordinal))?.TrimEnd('\r')[name.Length..];

    /// <summary>A command as Redis' protocol writes it.</summary>
    private static string Resp(string[] command) =>
        $"*{command.Length}\r\n" + string.Concat(command.Select(part => $"${System.Text.Encoding.UTF8.GetByteCount(part)}\r\n{part}\r\n"));


    /// <summary>The port of the master serving <paramref name="key"/>'s slot, as the node at <paramref name="askPort"/> sees it.</summary>
    private static async Task<int> MasterOfAsync(RedisKey key, int askPort)
    {
        // Asked over a plain socket: a multiplexer connecting to a node learns the whole cluster, dead node
        // included, and its connection attempts to that one are what a failover test must not wait on.
        var nodes = await AskAsync(askPort, "CLUSTER", "NODES");
        var slot = int.Parse(await AskAsync(askPort, "CLUSTER", "KEYSLOT", key!));
        foreach (var line in (nodes ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            // <id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <link> <slot or range>...
            var fields = line.Split(' ');
            if (!fields[2].Contains("master", StringComparison.Ordinal) || fields[2].Contains("fail", StringComparison.Ordinal))
            {
                continue;
            }
            foreach (var range in fields.Skip(8))
            {
                var bounds = range.Split('-');
                if (int.TryParse(bounds[0], out var from) && slot >= from && slot <= (bounds.Length > 1 ? int.Parse(bounds[1]) : from))
                {
                    var address = fields[1].Split('@', ',')[0];
                    return int.Parse(address[(address.LastIndexOf(':') + 1)..]);
                }
            }
        }
        return -1;
    }

    /// <summary>One command to one node over a plain socket: its integer or bulk-string reply.</summary>
    private static Task<string> AskAsync(int port, params string[] command) => AskAsync(port, TimeSpan.FromSeconds(2), command);

    private static async Task<string> AskAsync(int port, TimeSpan wait, params string[] command)
    {
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync("127.0.0.1", port).WaitAsync(TimeSpan.FromSeconds(2));
        await using var stream = client.GetStream();
        await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(Resp(command)));
        using var reader = new StreamReader(stream);
        var header = await reader.ReadLineAsync().WaitAsync(wait) ?? "";
        if (!header.StartsWith('$'))
        {
            return header[1..];
        }
        var body = new char[int.Parse(header[1..])];
        await reader.ReadBlockAsync(body).AsTask().WaitAsync(TimeSpan.FromSeconds(2));
        return new string(body);
    }

    /// <summary>Joins the nodes (the first three masters, the others their replicas) and waits until every slot is served.</summary>
    private async Task CreateAsync()
    {
        foreach (var node in _nodes)
        {
            await Eventually.TrueAsync(() => node.AnswersAsync(), $"redis-server on port {node.Port} to answer", Eventually.Slowly);
        }
        var endpoints = string.Join(' ', _nodes.Select(n => $"127.0.0.1:{n.Port}"));
        using var create = Process.Start(new ProcessStartInfo("redis-cli", $"--cluster create {endpoints} --cluster-replicas 1 --cluster-yes")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        var output = create.StandardOutput.ReadToEndAsync();
        var errors = create.StandardError.ReadToEndAsync();
        await create.WaitForExitAsync().WaitAsync(Eventually.Slowly);
        if (create.ExitCode != 0)
        {
            throw new InvalidOperationException($"redis-cli --cluster create failed ({create.ExitCode}): {await output}{await errors}");
        }
        // A replica that has not finished its first sync refuses to take over ("disconnected from master
        // for longer than allowed"): wait for every replica's link (the sync starts at once, no 5 s delay).
        foreach (var node in _nodes.Skip(Masters))
        {
            await Eventually.TrueAsync(async () => (await AskAsync(node.Port, "INFO", "replication")).Contains("master_link_status:up", StringComparison.Ordinal),
                $"replica {node.Port} to be in sync", Eventually.Slowly);
        }
        // Every node must agree before a client's first command, or it is sent MOVED/CLUSTERDOWN.
        foreach (var node in _nodes)
        {
            await Eventually.TrueAsync(() => SeesClusterOkAsync(node.Port, _nodes.Count), $"node {node.Port} to see the cluster ok", Eventually.Slowly);
        }
    }

    /// <summary>
    /// Garnet servers in cluster mode: three masters, each given a third of the slots, and with
    /// <paramref name="withReplicas"/> a replica of each (fed from its master's append-only log, which is
    /// why the log is on then), all introduced to each other.
    /// </summary>
    private async Task StartGarnetsAsync(bool withReplicas)
    {
        for (var i = 0; i < (withReplicas ? Masters * 2 : Masters); i++)
        {
            var port = FreePort.Hold();
            var directory = Path.Combine(_dataDirectory, port.ToString());
            string[] arguments = ["--port", port.ToString(), "--bind", "127.0.0.1", "--lua", "true", "--cluster",
                "--checkpointdir", directory, "--device-type", "RandomAccess"];
            var server = new GarnetServer(withReplicas ? [.. arguments, "--aof"] : arguments);
            _garnets.Add((server, port));
            server.Start();
        }
        await using var first = await ConnectToNodeAsync(_garnets[0].Port);
        for (var i = 0; i < _garnets.Count; i++)
        {
            await using var node = await ConnectToNodeAsync(_garnets[i].Port);
            var server = node.GetServer($"127.0.0.1:{_garnets[i].Port}");
            if (i < Masters)
            {
                await server.ExecuteAsync("CLUSTER", "ADDSLOTSRANGE", 16384 * i / Masters, 16384 * (i + 1) / Masters - 1);
            }
            await server.ExecuteAsync("CLUSTER", "SET-CONFIG-EPOCH", i + 1);
            if (i > 0)
            {
                await first.GetServer($"127.0.0.1:{_garnets[0].Port}").ExecuteAsync("CLUSTER", "MEET", "127.0.0.1", _garnets[i].Port);
            }
        }
        foreach (var (_, port) in _garnets)
        {
            await Eventually.TrueAsync(() => SeesClusterOkAsync(port, _garnets.Count), $"garnet {port} to see the cluster ok", Eventually.Slowly);
        }
        for (var i = 0; i < _garnets.Count - Masters; i++)
        {
            await using var master = await ConnectToNodeAsync(_garnets[i].Port);
            var id = (string?)await master.GetServer($"127.0.0.1:{_garnets[i].Port}").ExecuteAsync("CLUSTER", "MYID");
            var replicaPort = _garnets[i + Masters].Port;
            await using var replica = await ConnectToNodeAsync(replicaPort);
            await replica.GetServer($"127.0.0.1:{replicaPort}").ExecuteAsync("CLUSTER", "REPLICATE", id!);
        }
    }

    /// <summary>Whether the node says the cluster is ok, every slot served, and knows all <paramref name="nodes"/> of it.</summary>
    private static async Task<bool> SeesClusterOkAsync(int port, int nodes)
    {
        await using var connection = await ConnectToNodeAsync(port);
        var info = (string?)await connection.GetServer($"127.0.0.1:{port}").ExecuteAsync("CLUSTER", "INFO");
        return info?.Contains("cluster_state:ok", StringComparison.Ordinal) == true
            && info.Contains($"cluster_known_nodes:{nodes}", StringComparison.Ordinal);
    }

    /// <summary>A connection to one node alone, not the cluster (the node may not be in one yet).</summary>
    private static Task<ConnectionMultiplexer> ConnectToNodeAsync(int port) =>
        ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { $"127.0.0.1:{port}" }, AbortOnConnectFail = false, ConnectTimeout = 2000 });

    public async ValueTask DisposeAsync()
    {
        foreach (var (server, port) in _garnets)
        {
            if (!_killed.Contains(port))
            {
                server.Dispose();
            }
            FreePort.Release(port);
        }
        foreach (var node in _nodes)
        {
            node.Dispose();
        }
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open; the temporary directory is cleaned by the OS.
        }
        await Task.CompletedTask;
    }

    /// <summary>One <c>redis-server</c> of the cluster, with its own data directory and cluster bus port.</summary>
    private sealed class Node : IDisposable
    {
        private readonly Process _process;

        private Node(int port, int busPort, Process process)
        {
            Port = port;
            BusPort = busPort;
            _process = process;
        }

        public int Port { get; }

        /// <summary>Given, not port + 10000 (Redis' default), which could be taken or past 65535.</summary>
        public int BusPort { get; }

        public static Node Start(string dataDirectory)
        {
            var (port, busPort) = (FreePort.Hold(), FreePort.Hold());
            var directory = Path.Combine(dataDirectory, port.ToString());
            Directory.CreateDirectory(directory);
            // No persistence: a node that dies is replaced by its replica, which is what the tests are about.
            var process = Process.Start(new ProcessStartInfo("redis-server",
                $"--port {port} --cluster-port {busPort} --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file nodes.conf " +
                $"--cluster-node-timeout 5000 --repl-diskless-sync-delay 0 --save \"\" --appendonly no --dir {directory}")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            })!;
            _ = process.StandardOutput.ReadToEndAsync();
            _ = process.StandardError.ReadToEndAsync();
            return new Node(port, busPort, process);
        }

        public async Task<bool> AnswersAsync()
        {
            try
            {
                await using var connection = await ConnectToNodeAsync(Port);
                await connection.GetServer($"127.0.0.1:{Port}").PingAsync();
                return true;
            }
            catch (RedisConnectionException)
            {
                return false;
            }
        }

        /// <summary>Ends the process at once (SIGKILL): no goodbye to the cluster or the clients.</summary>
        public void Kill()
        {
            _process.Kill();
            _process.WaitForExit(5000);
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }
            _process.Dispose();
            FreePort.Release(Port);
            FreePort.Release(BusPort);
        }
    }
}
