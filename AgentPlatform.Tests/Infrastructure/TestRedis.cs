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
    private readonly Process? _redisServer;
    private readonly GarnetServer? _garnet;

    private TestRedis(int port, Process? redisServer, GarnetServer? garnet)
    {
        Port = port;
        _redisServer = redisServer;
        _garnet = garnet;
    }

    public int Port { get; }

    public string ConnectionString => $"127.0.0.1:{Port}";

    public string Kind => _redisServer is not null ? "redis-server" : "garnet";

    public static async Task<TestRedis> StartAsync()
    {
        var port = FreePort.Next();
        var redisServer = FindOnPath("redis-server");
        if (redisServer is null)
        {
            var garnet = new GarnetServer(["--port", port.ToString(), "--bind", "127.0.0.1", "--lua", "true"]);
            garnet.Start();
            var started = new TestRedis(port, null, garnet);
            await started.WaitUntilAnswersAsync();
            return started;
        }

        var process = Process.Start(new ProcessStartInfo(redisServer, $"--port {port} --bind 127.0.0.1 --save \"\" --appendonly no")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        _ = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        var redis = new TestRedis(port, process, null);
        await redis.WaitUntilAnswersAsync();
        return redis;
    }

    private async Task WaitUntilAnswersAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            try
            {
                await using var connection = await ConnectionMultiplexer.ConnectAsync(ConnectionString);
                await connection.GetDatabase().PingAsync();
                return;
            }
            catch (RedisConnectionException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
    }

    private static string? FindOnPath(string executable) =>
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
        return ValueTask.CompletedTask;
    }
}

public static class FreePort
{
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
