using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Garnet;
using StackExchange.Redis;

namespace AgentPlatform.Tests.Infrastructure;

/// <summary>
/// A real Redis for a test run: <c>redis-server</c> when it is on PATH (as in CI), otherwise an embedded
/// Garnet server, so the tests need nothing but the .NET SDK. Never a fake.
/// </summary>
public sealed class TestRedis : IAsyncDisposable
{
    private Process? _redisServer;
    private GarnetServer? _garnet;
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "agentplatform-tests", "redis-" + Guid.NewGuid().ToString("N"));

    private TestRedis(int port)
    {
        Port = port;
    }

    public int Port { get; }

    public string ConnectionString => $"127.0.0.1:{Port}";

    public string Kind => _redisServer is not null ? "redis-server" : "garnet";

    /// <summary>Starts a server that keeps its data on disk (an append-only file), so it survives <see cref="RestartAsync"/>.</summary>
    public static async Task<TestRedis> StartAsync()
    {
        var redis = new TestRedis(FreePort.Hold());
        Directory.CreateDirectory(redis._dataDirectory);
        redis.Start();
        await redis.WaitUntilAnswersAsync();
        return redis;
    }

    private void Start()
    {
        var redisServer = FindOnPath("redis-server");
        if (redisServer is null)
        {
            _garnet = new GarnetServer(["--port", Port.ToString(), "--bind", "127.0.0.1", "--lua", "true",
                "--aof", "--checkpointdir", _dataDirectory, "--recover", "--device-type", "RandomAccess"]);
            _garnet.Start();
            return;
        }
        _redisServer = Process.Start(new ProcessStartInfo(redisServer, $"--port {Port} --bind 127.0.0.1 --save \"\" --appendonly yes --dir {_dataDirectory}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        _ = _redisServer.StandardOutput.ReadToEndAsync();
        _ = _redisServer.StandardError.ReadToEndAsync();
    }

    /// <summary>Stops the server as an operator would (it writes what it holds to disk first) and starts it again on the same port.</summary>
    public async Task RestartAsync(TimeSpan downFor)
    {
        await StopAsync();
        await Task.Delay(downFor);
        Start();
        await WaitUntilAnswersAsync();
    }

    private async Task StopAsync()
    {
        if (_redisServer is { HasExited: false } process)
        {
            using var term = Process.Start("kill", $"-TERM {process.Id}");
            await term.WaitForExitAsync();
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            process.Dispose();
            _redisServer = null;
        }
        if (_garnet is not null)
        {
            await using (var connection = await ConnectionMultiplexer.ConnectAsync(ConnectionString))
            {
                await connection.GetDatabase().ExecuteAsync("COMMITAOF");
            }
            _garnet.Dispose();
            _garnet = null;
        }
    }

    private Task WaitUntilAnswersAsync() => Eventually.TrueAsync(async () =>
    {
        try
        {
            await using var connection = await ConnectionMultiplexer.ConnectAsync(ConnectionString);
            await connection.GetDatabase().PingAsync();
            return true;
        }
        // A restarted redis-server answers LOADING while it replays its append-only file: not back yet.
        catch (Exception exception) when (exception is RedisConnectionException
            || exception is RedisServerException && exception.Message.StartsWith("LOADING", StringComparison.Ordinal))
        {
            return false;
        }
    }, $"{Kind} on port {Port} to answer", Eventually.Slowly);

    internal static string? FindOnPath(string executable) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, executable))
            .FirstOrDefault(File.Exists);

    public ValueTask DisposeAsync()
    {
        if (_redisServer is { HasExited: false })
        {
            _redisServer.Kill(entireProcessTree: true);
            _redisServer.WaitForExit(5000);
        }
        _redisServer?.Dispose();
        _garnet?.Dispose();
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open; the temporary directory is cleaned by the OS.
        }
        FreePort.Release(Port);
        return ValueTask.CompletedTask;
    }
}

public static class FreePort
{
    /// <summary>Ports handed out for servers that may leave them unbound for a while (a Redis being restarted).</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, byte> Held = new();

    /// <summary>
    /// A port free now and not held: while <see cref="TestRedis.RestartAsync"/> has its Redis down, its port is
    /// free as far as the OS knows, and a fixture starting meanwhile could be given it (the restarted Redis
    /// could then not listen, and its Api would talk to a stranger's Redis).
    /// </summary>
    public static int Next()
    {
        while (true)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            if (!Held.ContainsKey(port))
            {
                return port;
            }
        }
    }

    /// <summary>A free port kept from <see cref="Next"/> until <see cref="Release"/>.</summary>
    public static int Hold()
    {
        while (true)
        {
            var port = Next();
            if (Held.TryAdd(port, 0))
            {
                return port;
            }
        }
    }

    public static void Release(int port) => Held.TryRemove(port, out _);
}
