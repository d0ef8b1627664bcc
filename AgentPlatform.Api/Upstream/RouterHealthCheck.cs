using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace AgentPlatform.Api.Upstream;

/// <summary>
/// Readiness: a Router replica answers its liveness probe — any of them, as completions go to any (one
/// of two gone leaves the Api ready). A provider outage does not make the Api unready.
/// </summary>
internal sealed class RouterHealthCheck(IHttpClientFactory httpClientFactory, RouterReplicas replicas) : IHealthCheck
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        var failures = new List<string>();
        try
        {
            var client = httpClientFactory.CreateClient(RouterClient.HttpClientName);
            foreach (var replica in await replicas.ListAsync(timeout.Token))
            {
                try
                {
                    using var response = await client.GetAsync(new Uri(replica, "/alive"), timeout.Token);
                    if (response.IsSuccessStatusCode)
                    {
                        return HealthCheckResult.Healthy();
                    }
                    failures.Add($"one answered {(int)response.StatusCode}");
                }
                catch (HttpRequestException exception)
                {
                    if (exception.HttpRequestError == HttpRequestError.ConnectionError)
                    {
                        replicas.Refused(replica);
                    }
                    failures.Add($"one is unreachable ({exception.HttpRequestError})");
                }
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            failures.Add($"no answer within {Timeout.TotalSeconds:0} s");
        }
        return HealthCheckResult.Unhealthy($"No Router replica is ready: {string.Join("; ", failures)}.");
    }
}
