using Garnet;

namespace AgentPlatform.AppHost.Redis;

/// <summary>
/// The embedded Garnet server. It is started before the orchestrator starts any resource (the services
/// need Redis to become healthy, and the orchestrator's start waits for them), and it lives in the
/// AppHost process: stopping the AppHost disposes it, so nothing is left behind.
/// </summary>
internal sealed class EmbeddedGarnet(GarnetResource resource, string dataDirectory) : IDisposable
{
    private GarnetServer? _server;

    public async Task StartAsync(ResourceNotificationService notifications)
    {
        // Tenants, keys, spend and the usage ledger must survive a restart: an append-only file,
        // replayed at start (--recover). The managed RandomAccess device, because Garnet's native one
        // needs libaio, which not every machine has.
        _server = new GarnetServer(["--port", resource.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--lua", "true",
            "--aof", "--checkpointdir", dataDirectory, "--recover", "--device-type", "RandomAccess"]);
        _server.Start();
        await notifications.PublishUpdateAsync(resource, state => state with
        {
            State = KnownResourceStates.Running,
            StartTimeStamp = TimeProvider.System.GetUtcNow().UtcDateTime,
            Properties = [.. state.Properties, new("redis.port", resource.Port)],
        });
    }

    public void Dispose()
    {
        Interlocked.Exchange(ref _server, null)?.Dispose();
    }
}
