using Microsoft.Extensions.Hosting;

using Garnet;

namespace AgentPlatform.AppHost.Redis;

/// <summary>
/// Runs the embedded Garnet server for as long as the AppHost runs, and tells the dashboard its state.
/// It lives in the AppHost process, so stopping the AppHost stops it: nothing is left behind.
/// </summary>
internal sealed class EmbeddedGarnet(GarnetResource resource, ResourceNotificationService notifications) : IHostedService, IDisposable
{
    private GarnetServer? _server;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _server = new GarnetServer(["--port", resource.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--lua", "true"]);
        _server.Start();
        await notifications.PublishUpdateAsync(resource, state => state with
        {
            State = KnownResourceStates.Running,
            StartTimeStamp = DateTime.UtcNow,
            Properties = [.. state.Properties, new("redis.port", resource.Port)],
        });
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        await notifications.PublishUpdateAsync(resource, state => state with { State = KnownResourceStates.Finished, StopTimeStamp = DateTime.UtcNow });
    }

    public void Dispose()
    {
        Interlocked.Exchange(ref _server, null)?.Dispose();
    }
}
