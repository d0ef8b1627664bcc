using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace AgentPlatform.Api.Upstream;

/// <summary>Readiness: a Router answers its liveness probe. (A provider outage does not make the Api unready.)</summary>
internal sealed class RouterHealthCheck(IHttpClientFactory httpClientFactory) : IHealthCheck
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        try
        {
            using var response = await httpClientFactory.CreateClient(RouterClient.HttpClientName).GetAsync("/alive", timeout.Token);
            return response.IsSuccessStatusCode
                ? HealthCheckResult.Healthy()
                : HealthCheckResult.Unhealthy($"The router answered {(int)response.StatusCode}.");
        }
        catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy("The router is unreachable.", exception);
        }
    }
}
