using System.Net.Http.Headers;
using AgentPlatform.Contracts.Admin;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Web.Platform;

/// <summary>
/// The key the console's own calls to <c>/v1</c> (the playground) are made with. The master key works
/// until the first virtual key exists; from then on it is for the admin API only, so the console gives
/// itself a virtual key of its own — tenant "AgentPlatform console", key "console playground", earlier
/// ones revoked — through the admin API, and keeps it in memory on the server.
/// </summary>
public sealed class ConsoleClientKey(IHttpClientFactory httpClientFactory, IOptions<ConsoleOptions> options)
{
    public const string TenantName = "AgentPlatform console";
    public const string KeyName = "console playground";

    private readonly SemaphoreSlim _provisioning = new(1, 1);
    private volatile string? _virtualKey;

    /// <summary>The key to call <c>/v1</c> with now.</summary>
    public string Current => _virtualKey ?? options.Value.MasterKey;

    /// <summary>Gives the console a virtual key (once, however many calls find the master key refused).</summary>
    public async Task ProvisionAsync(string refusedKey, CancellationToken cancellationToken)
    {
        await _provisioning.WaitAsync(cancellationToken);
        try
        {
            if (_virtualKey is not null && _virtualKey != refusedKey)
            {
                return; // another call did it meanwhile
            }
            var admin = httpClientFactory.CreateClient(PlatformApiClient.HttpClientName);
            var tenantId = await FindOrCreateTenantAsync(admin, cancellationToken);
            var keys = await SendAsync<ListOf<KeyView>>(admin, HttpMethod.Get, $"/admin/v1/keys?tenantId={Uri.EscapeDataString(tenantId)}", null, cancellationToken);
            foreach (var key in keys.Data.Where(k => k.Name == KeyName && k.RevokedAt is null))
            {
                await SendAsync<KeyView>(admin, HttpMethod.Delete, $"/admin/v1/keys/{Uri.EscapeDataString(key.Id)}", null, cancellationToken);
            }
            var created = await SendAsync<KeyView>(admin, HttpMethod.Post, "/admin/v1/keys", new LimitsChange { TenantId = tenantId, Name = KeyName }, cancellationToken);
            _virtualKey = created.Key;
        }
        finally
        {
            _provisioning.Release();
        }
    }

    private async Task<string> FindOrCreateTenantAsync(HttpClient admin, CancellationToken cancellationToken)
    {
        var tenants = await SendAsync<ListOf<TenantView>>(admin, HttpMethod.Get, "/admin/v1/tenants", null, cancellationToken);
        if (tenants.Data.FirstOrDefault(t => t.Name == TenantName) is { } tenant)
        {
            return tenant.Id;
        }
        return (await SendAsync<TenantView>(admin, HttpMethod.Post, "/admin/v1/tenants", new LimitsChange { Name = TenantName }, cancellationToken)).Id;
    }

    private async Task<T> SendAsync<T>(HttpClient admin, HttpMethod method, string path, object? body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", options.Value.MasterKey);
        using var response = await admin.SendAsync(request, cancellationToken);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<T>(cancellationToken))!;
    }
}
