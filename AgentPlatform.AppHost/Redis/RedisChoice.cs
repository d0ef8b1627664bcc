using System.Diagnostics;
using Microsoft.Extensions.Configuration;

namespace AgentPlatform.AppHost.Redis;

/// <summary>Where the platform's Redis comes from.</summary>
public enum RedisKind
{
    /// <summary><c>ConnectionStrings:cache</c> was given: an existing Redis, used as is.</summary>
    ConnectionString,

    /// <summary>A container runtime answers: a real Redis container with a data volume.</summary>
    Container,

    /// <summary><c>redis-server</c> is on PATH: run as an executable with append-only persistence.</summary>
    RedisServer,

    /// <summary>Nothing else: an embedded Garnet server inside the AppHost, so the SDK alone is enough.</summary>
    Garnet,
}

/// <summary>
/// Picks the Redis in the order the README promises: a configured connection string, a container,
/// <c>redis-server</c>, embedded Garnet. <c>AgentPlatform:Redis</c> (<c>container</c>,
/// <c>redis-server</c>, <c>garnet</c>) forces a choice, over a connection string too.
/// </summary>
public static class RedisChoice
{
    public const string ForceKey = "AgentPlatform:Redis";

    public static RedisKind Pick(IConfiguration configuration, Func<bool> containerRuntimeAnswers, Func<string?> findRedisServer)
    {
        // Forced first: a connection string left in user secrets must not quietly win over what was asked for.
        switch (configuration[ForceKey]?.ToLowerInvariant())
        {
            case null or "" or "auto":
                break;
            case "container":
                return RedisKind.Container;
            case "redis-server":
                return RedisKind.RedisServer;
            case "garnet":
                return RedisKind.Garnet;
            case var other:
                throw new InvalidOperationException($"{ForceKey} is '{other}'; use auto, container, redis-server or garnet.");
        }
        if (!string.IsNullOrWhiteSpace(configuration.GetConnectionString("cache")))
        {
            return RedisKind.ConnectionString;
        }
        if (containerRuntimeAnswers())
        {
            return RedisKind.Container;
        }
        return findRedisServer() is not null ? RedisKind.RedisServer : RedisKind.Garnet;
    }

    /// <summary>
    /// True when a container runtime's engine answers. Finding the <c>docker</c> binary is not enough:
    /// a client without an engine (as on the build machine) fails <c>docker info</c> at once.
    /// </summary>
    public static bool ContainerRuntimeAnswers()
    {
        foreach (var runtime in (ReadOnlySpan<string>)["docker", "podman"])
        {
            if (FindOnPath(runtime) is not { } path)
            {
                continue;
            }
            try
            {
                using var process = Process.Start(new ProcessStartInfo(path, "info")
                {
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                    UseShellExecute = false,
                });
                if (process is null)
                {
                    continue;
                }
                process.StandardOutput.ReadToEndAsync();
                process.StandardError.ReadToEndAsync();
                if (!process.WaitForExit(TimeSpan.FromSeconds(10)))
                {
                    process.Kill(entireProcessTree: true);
                    continue;
                }
                if (process.ExitCode == 0)
                {
                    return true;
                }
            }
            catch (System.ComponentModel.Win32Exception)
            {
                // Found but not runnable: no runtime.
            }
        }
        return false;
    }

    public static string? FindOnPath(string executable)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var directory in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, executable);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }
}
