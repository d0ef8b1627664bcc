using System.Diagnostics;
using Garnet;
using StackExchange.Redis;

namespace AgentPlatform.Tests.Infrastructure;

/// <summary>
/// A real Redis Cluster for a test run, as a user's managed cluster would be: six <c>redis-server</c>
/// processes on loopback (three masters, each with a replica), joined by <c>redis-cli --cluster
/// create</c>. Its <see cref="ConnectionString"/> lists the masters as seed nodes, the way an operator
/// points <c>ConnectionStrings:cache</c> at a cluster. Without <c>redis-server</c> and <c>redis-cli</c>
/// on PATH (CI installs them), three embedded Garnet servers in cluster mode, masters only, so the tests
/// need nothing but the .NET SDK.
/// </summary>
public sealed class TestRedisCluster : IAsyncDisposable
{
    private const int Masters = 3;

    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "agentplatform-tests", "cluster-" + Guid.NewGuid().ToString("N"));
    private readonly List<Node> _nodes = [];
    private readonly List<(GarnetServer Server, int Port)> _garnets = [];

    private TestRedisCluster()
    {
    }

    /// <summary>The seed nodes: the three masters.</summary>
    public string ConnectionString => string.Join(',',
        _garnets.Count > 0 ? _garnets.Select(g => $"127.0.0.1:{g.Port}") : _nodes.Take(Masters).Select(n => $"127.0.0.1:{n.Port}"));

    public static async Task<TestRedisCluster> StartAsync()
    {
        var cluster = new TestRedisCluster();
        try
        {
            if (TestRedis.FindOnPath("redis-server") is null || TestRedis.FindOnPath("redis-cli") is null)
            {
                await cluster.StartGarnetsAsync();
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
    /// long that took. redis-server only: Garnet's test cluster has no replicas.
    /// </summary>
    public async Task<TimeSpan> KillMasterOfAsync(RedisKey key)
    {
        if (_nodes.Count == 0)
        {
            throw new InvalidOperationException("A failover needs the redis-server cluster; the Garnet one has no replicas.");
        }
        var master = await MasterOfAsync(key, _nodes[0].Port);
        var victim = _nodes.Single(node => node.Port == master);
        var started = Stopwatch.StartNew();
        victim.Kill();
        var survivors = _nodes.Where(node => node != victim).ToList();
        await Eventually.TrueAsync(async () => await MasterOfAsync(key, survivors[0].Port) is var now && now != master && now != -1,
            $"a replica to take over the slot of port {master}", Eventually.Slowly);
        foreach (var node in survivors)
        {
            await Eventually.TrueAsync(() => SeesClusterOkAsync(node.Port, _nodes.Count), $"node {node.Port} to see the cluster ok again", Eventually.Slowly);
        }
        return started.Elapsed;
    }

    /// <summary>The port of the master serving <paramref name="key"/>'s slot, as the node at <paramref name="askPort"/> sees it.</summary>
    private static async Task<int> MasterOfAsync(RedisKey key, int askPort)
    {
        await using var connection = await ConnectToNodeAsync(askPort);
        var nodes = (string?)await connection.GetServer($"127.0.0.1:{askPort}").ExecuteAsync("CLUSTER", "NODES");
        var slot = connection.HashSlot(key);
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
                    return int.Parse(fields[1][(fields[1].IndexOf(':') + 1)..fields[1].IndexOf('@')]);
                }
            }
        }
        return -1;
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
        // Every node must agree before a client's first command, or it is sent MOVED/CLUSTERDOWN.
        foreach (var node in _nodes)
        {
            await Eventually.TrueAsync(() => SeesClusterOkAsync(node.Port, _nodes.Count), $"node {node.Port} to see the cluster ok", Eventually.Slowly);
        }
    }

    /// <summary>Three Garnet servers in cluster mode, each given a third of the slots and introduced to the others.</summary>
    private async Task StartGarnetsAsync()
    {
        for (var i = 0; i < Masters; i++)
        {
            var port = FreePort.Hold();
            var server = new GarnetServer(["--port", port.ToString(), "--bind", "127.0.0.1", "--lua", "true", "--cluster",
                "--checkpointdir", Path.Combine(_dataDirectory, port.ToString()), "--device-type", "RandomAccess"]);
            _garnets.Add((server, port));
            server.Start();
        }
        await using var first = await ConnectToNodeAsync(_garnets[0].Port);
        for (var i = 0; i < Masters; i++)
        {
            await using var node = await ConnectToNodeAsync(_garnets[i].Port);
            var server = node.GetServer($"127.0.0.1:{_garnets[i].Port}");
            var (from, to) = (16384 * i / Masters, 16384 * (i + 1) / Masters - 1);
            await server.ExecuteAsync("CLUSTER", "ADDSLOTSRANGE", from, to);
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
            server.Dispose();
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
                $"--cluster-node-timeout 2000 --save \"\" --appendonly no --dir {directory}")
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
