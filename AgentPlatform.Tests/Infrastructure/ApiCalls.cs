using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace AgentPlatform.Tests.Infrastructure;

/// <summary>The admin and client calls the Api tests share: tenants and keys made through the admin API, clients that send a key.</summary>
public static class ApiCalls
{
    public static HttpClient Admin(IRunningService api) => Client(api, PlatformFixture.MasterKey);

    public static HttpClient Client(IRunningService api, string key)
    {
        var client = api.CreateHttpClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", key);
        return client;
    }

    /// <summary>Creates a tenant through the admin API; its id.</summary>
    public static async Task<string> CreateTenantAsync(IRunningService api, object tenant)
    {
        using var admin = Admin(api);
        using var response = await admin.PostAsJsonAsync("/admin/v1/tenants", tenant);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }

    /// <summary>Creates a key for the tenant through the admin API; its id and its plaintext.</summary>
    public static async Task<(string Id, string Key)> CreateKeyAsync(IRunningService api, string tenantId, object key)
    {
        using var admin = Admin(api);
        var body = JsonSerializer.SerializeToNode(key)!.AsObject();
        body["tenantId"] = tenantId;
        using var response = await admin.PostAsJsonAsync("/admin/v1/keys", body);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var created = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (created.GetProperty("id").GetString()!, created.GetProperty("key").GetString()!);
    }

    /// <summary>
    /// The usage ledger's records matching <paramref name="query"/> (e.g. <c>keyId=key_...</c>), once at
    /// least <paramref name="expected"/> of them have been written (records reach Redis shortly after
    /// their requests end, later under the suite's load).
    /// </summary>
    public static async Task<List<JsonElement>> LedgerAsync(HttpClient admin, string query, int expected)
    {
        var lines = await Eventually.ReadAsync(
            async () => (await admin.GetStringAsync($"/admin/v1/usage?{query}&format=jsonl")).Split('\n', StringSplitOptions.RemoveEmptyEntries),
            lines => lines.Length >= expected, $"{expected} usage records of {query}", Eventually.Slowly);
        return lines.Select(line => JsonDocument.Parse(line).RootElement.Clone()).ToList();
    }
}
