using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace AgentPlatform.Tests.Infrastructure;

/// <summary>
/// A service as its own process, from its build output beside the tests' (<c>dotnet AgentPlatform.X.dll</c>):
/// for a real SIGTERM, or for what must not be shared with the other services of the test process
/// (OpenTelemetry collects every meter of a name in a process, whichever host made it).
/// </summary>
public sealed partial class ServiceProcess : IRunningService, IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly string _contentRoot;
    private readonly string _name;

    private ServiceProcess(Process process, string contentRoot, string name)
    {
        _process = process;
        _contentRoot = contentRoot;
        _name = name;
    }

    public Uri BaseAddress { get; private set; } = null!;

    public int ExitCode => _process.ExitCode;

    /// <param name="assembly">The service's assembly, e.g. <c>AgentPlatform.Router</c>.</param>
    /// <param name="settings">Its configuration, as <c>Section:Key</c> names (passed as environment variables).</param>
    public static async Task<ServiceProcess> StartAsync(string assembly, IEnumerable<KeyValuePair<string, string?>> settings)
    {
        // An empty content root: every setting comes from the environment, none from an appsettings.json.
        var contentRoot = Directory.CreateTempSubdirectory("agentplatform-process-").FullName;
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, assembly + ".dll"), "--contentRoot", contentRoot },
            WorkingDirectory = contentRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Port 0, read back from the log: a port chosen beforehand could be taken by another test's server meanwhile.
        start.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information"; // "Now listening on"
        start.Environment.Remove("OTEL_EXPORTER_OTLP_ENDPOINT");
        foreach (var (key, value) in TestKeys.Settings.Concat(settings))
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var process = Process.Start(start)!;
        var api = new ServiceProcess(process, contentRoot, assembly);
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        void Read(string? line)
        {
            api.Append(line);
            if (line is not null && ListeningOn().Match(line) is { Success: true } match)
            {
                listening.TrySetResult(new Uri(match.Groups[1].Value));
            }
        }
        process.OutputDataReceived += (_, e) => Read(e.Data);
        process.ErrorDataReceived += (_, e) => Read(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        try
        {
            api.BaseAddress = await listening.Task.WaitAsync(Eventually.Slowly);
        }
        catch (TimeoutException)
        {
            throw new InvalidOperationException($"{assembly} did not start listening:\n{api.Output}");
        }
        await Eventually.ReadAsync(async () =>
        {
            Assert.False(process.HasExited, $"{assembly} exited before it was ready:\n{api.Output}");
            return await api.HealthAsync();
        }, status => status == HttpStatusCode.OK, $"{assembly} to be ready", Eventually.Slowly, describe: status => $"{status}; its output:\n{api.Output}");
        return api;
    }

    [GeneratedRegex(@"Now listening on: (http://127\.0\.0\.1:\d+)")]
    private static partial Regex ListeningOn();

    /// <summary>The process's working set now, in bytes.</summary>
    public long WorkingSetBytes
    {
        get
        {
            _process.Refresh();
            return _process.WorkingSet64;
        }
    }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Waits until the process has written <paramref name="text"/> to its output.</summary>
    public Task WaitForOutputAsync(string text, TimeSpan timeout) =>
        Eventually.ReadAsync(() => Task.FromResult(Output), output => output.Contains(text, StringComparison.Ordinal),
            $"{_name} to write '{text}'", timeout, describe: output => $"its output:\n{output}");

    /// <summary>A client of the service; of a Router, one that presents the internal key as the Api does.</summary>
    public HttpClient CreateHttpClient() => TestKeys.Client(BaseAddress, isRouter: _name == "AgentPlatform.Router");

    public HttpClient Client(string key)
    {
        var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue }) { BaseAddress = BaseAddress, Timeout = TimeSpan.FromMinutes(1) };
        client.DefaultRequestHeaders.Authorization = new("Bearer", key);
        return client;
    }

    /// <summary>The readiness probe's status on a new connection; 0 when the connection is refused.</summary>
    public async Task<HttpStatusCode> HealthAsync()
    {
        using var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            using var response = await client.GetAsync("/health");
            return response.StatusCode;
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
        {
            return 0;
        }
    }

    /// <summary>Sends SIGTERM, as an orchestrator does to stop a replica.</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>Ends the process at once (SIGKILL), as a crashed host or an out-of-memory kill does: no drain, no goodbye.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    public async Task<bool> ExitedWithinAsync(TimeSpan timeout)
    {
        using var cancellation = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancellation.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        Directory.Delete(_contentRoot, recursive: true);
    }
}
